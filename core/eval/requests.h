// What the model is asked for each document, built as the harness's ConfigurableTask builds it
// (fewshot_context, build_qa_turn, construct_requests) without a chat template: the description, the
// few-shot examples (drawn with Random(1234) as the harness seeds its sampler), then the document's
// text; multiple_choice asks (context, target_delimiter + choice) per choice, loglikelihood
// (context, target), loglikelihood_rolling the target alone, generate_until the context. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/eval/doc_format.h"
#include "core/eval/task_config.h"
#include "core/eval/task_docs.h"

namespace lathe::eval {

struct DocRequests {
    size_t doc_id = 0;
    Doc doc;
    std::string context;
    nlohmann::ordered_json target;       // doc_to_target's value
    std::vector<std::string> choices;    // multiple_choice (and generate_until with doc_to_choice)
    // loglikelihood and multiple_choice: (context, continuation) per request.
    std::vector<std::pair<std::string, std::string>> pairs;
    std::string rolling_text;            // loglikelihood_rolling
};

struct TaskRequests {
    std::vector<DocRequests> docs;
    size_t total_docs = 0;               // in the evaluated split, before --limit
    int64_t num_fewshot = 0;
};

// num_fewshot: the command's --num-fewshot (overrides the task's, except a task that sets 0, as the
// harness does); limit: the first N documents.
TaskRequests build_requests(const TaskConfig& config, const std::map<std::string, Split>& splits,
                            std::optional<int64_t> num_fewshot, std::optional<int64_t> limit);

}  // namespace lathe::eval
