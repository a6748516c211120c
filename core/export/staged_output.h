// An export's output (a folder) is built in a hidden temporary folder beside it and renamed into place
// only when complete, so a failed or interrupted export leaves nothing half-written at OUTPUT.
// Torch-free.
#pragma once

#include <string>

namespace lathe {

class StagedOutput {
public:
    // Refuses (lathe::Error, nothing touched) when `final_path` exists and `force` is false. Removes
    // temporary folders that exports killed outright (SIGKILL, power loss) left beside it, then makes a
    // fresh one: <parent>/.<name>.export-<pid>.tmp.
    StagedOutput(std::string final_path, bool force);
    // Removes the temporary folder unless publish() succeeded.
    ~StagedOutput();
    StagedOutput(const StagedOutput&) = delete;
    StagedOutput& operator=(const StagedOutput&) = delete;

    const std::string& dir() const { return temp_dir_; }
    const std::string& final_path() const { return final_path_; }  // absolute
    // fsyncs the files and renames the temporary folder to `final_path`. With `force`, what was there
    // before is moved aside first and removed only after the new output is in place.
    void publish();

private:
    std::string final_path_;
    std::string temp_dir_;
    bool force_ = false;
    bool published_ = false;
};

}  // namespace lathe
