// Runs lm-evaluation-harness tasks (task YAML files) on a loaded causal LM and reports what the
// harness's results file reports: per task the metrics under "<metric>,<filter>" with their
// "<metric>_stderr,<filter>", the document counts, and (log_samples) each document's requests,
// log-likelihoods or generation and scores.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/models/decoder_lm.h"
#include "core/text/text_tokenizer.h"

namespace lathe::eval {

struct EvalOptions {
    std::optional<int64_t> limit;        // the first N documents of each task
    std::optional<int64_t> num_fewshot;  // overrides the tasks' (except a task that sets 0)
    int64_t batch_size = 16;
    bool log_samples = false;
    int bootstrap_iters = 100000;        // the harness's default (perplexity's stderr)
    // Progress: {"event": "progress", "task", "done", "total", "fraction", "elapsed_s", "eta_s"} over
    // all tasks' requests.
    std::function<void(const nlohmann::ordered_json&)> on_event;
};

// {"results": {task: {...}}, "n-samples": {task: {"original", "effective"}}, "configs": {task:
// {"output_type", "num_fewshot", "file"}}, "samples": {task: [...]} (log_samples)}.
nlohmann::ordered_json evaluate_tasks(const DecoderLM& lm, const TextTokenizer& tokenizer, const std::vector<std::string>& task_files,
                                      const EvalOptions& options);

}  // namespace lathe::eval
