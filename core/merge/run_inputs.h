// Runs of the run store as merge inputs: `run:ID` (the run's latest checkpoint) or `run:ID:STEP`. A
// full-finetune checkpoint is read where it is; a LoRA/DoRA checkpoint is first merged into its base
// model (as `lathe export --format merged` writes it) in a scratch folder beside the output, which is
// removed afterwards — as mergekit merges a LoRA input into a full model before merging.
// Part of lathe_core (it uses the export code).
#pragma once

#include <map>
#include <string>

namespace lathe::merge {

// Whether a model reference names a run ("run:12", "run:12:300").
bool is_run_reference(const std::string& reference);

class RunInputResolver {
public:
    // `store`: the run store database ("" = the default); scratch folders go beside `output`.
    RunInputResolver(std::string store, std::string output);
    ~RunInputResolver();  // removes the scratch folder
    RunInputResolver(const RunInputResolver&) = delete;
    RunInputResolver& operator=(const RunInputResolver&) = delete;

    // A folder of full weights for the reference; a folder reference is returned as it is.
    std::string resolve(const std::string& reference);

private:
    std::string store_;
    std::string scratch_;
    std::map<std::string, std::string> done_;
};

}  // namespace lathe::merge
