// `lathe eval`: lm-evaluation-harness tasks on a model folder (core/eval). Its own header so the
// command's fields stay beside it rather than in commands.h.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/runs/run_store.h"

namespace lathe {

struct EvalCommand {
    std::string model_dir;               // with run_id: the base model (default: the run's)
    std::string adapter_dir;             // optional PEFT adapter
    // A training run's model from the run store, as `lathe export --run` finds it: a LoRA/DoRA
    // checkpoint over its base model (4-bit as trained for a QLoRA run), or a full finetune's weights.
    int64_t run_id = 0;
    std::string checkpoint = "latest";   // a step of the run, or latest
    std::string store;                   // run store database ("" = the default)
    std::vector<std::string> tasks;      // task YAML files (--tasks a.yaml,b.yaml)
    int64_t limit = -1;                  // -1: every document
    int64_t num_fewshot = -1;            // -1: the tasks' own
    int64_t batch_size = 16;
    bool json = false;                   // JSON-lines progress and one JSON result object
    bool log_samples = false;            // per-document requests, log-likelihoods and scores in the JSON
    std::string device = "cpu";
    std::string dtype;                   // empty: the checkpoint's
    int64_t record_run = 0;              // --record-run: keep the scores in the run store beside this run
};

// What `lathe eval` scored, as the Evaluate page names it: "checkpoint STEP" for a run's checkpoint,
// "base" for the run's own base model, else "model DIR" (+ " + adapter DIR").
std::string eval_model_label(const EvalCommand& cmd, const std::string& run_base_model, int64_t checkpoint_step);
// Progress on `out` (JSON lines with --json, else text lines), then the results: a table, or with --json
// one JSON object (the harness's results layout). Returns nothing; throws lathe::Error on bad input.
void run_eval(const EvalCommand& cmd, std::ostream& out);

// The scores of a harness results object (`results` and `configs`, as `lathe eval --json` prints them):
// every metric of every task with its filter and standard error.
std::vector<EvalScore> eval_scores_of_report(const nlohmann::ordered_json& report, int64_t limit);

}  // namespace lathe
