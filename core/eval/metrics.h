// Per-document scores and their aggregation as the harness computes them (ConfigurableTask.
// process_results, api/metrics.py): acc / acc_norm / exact_match per document, aggregated by mean
// with mean_stderr (sample standard deviation / sqrt(n)); perplexity by exp(-mean) with the harness's
// bootstrap stderr (100000 resamples drawn with Random(i) per chunk of 1000, as it draws them);
// word_perplexity / byte_perplexity (weighted perplexity) and bits_per_byte, whose stderr is "N/A".
// Torch-free.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/eval/requests.h"
#include "core/eval/task_config.h"

namespace lathe::eval {

// What the model answered for one document.
struct DocResponse {
    std::vector<std::pair<double, bool>> loglikelihoods;  // (log-likelihood, is_greedy) per request
    double rolling_loglikelihood = 0;
    std::string generation;
};

// One metric's per-document items: a value, or (log-likelihood, weight) for the weighted ones.
struct MetricItems {
    std::string metric;
    std::string filter;
    std::vector<double> values;
    std::vector<double> weights;  // word/byte counts (weighted_perplexity, bits_per_byte)
};

// Scores each document; returns one MetricItems per (filter, metric) and fills `per_doc` with each
// document's {metric: value} and filtered responses (for --log-samples).
std::vector<MetricItems> score_documents(const TaskConfig& config, const TaskRequests& requests,
                                         const std::vector<DocResponse>& responses, nlohmann::ordered_json* per_doc);

// {"acc,none": 0.5, "acc_stderr,none": 0.1, ...} in the harness's key order: metric then stderr.
nlohmann::ordered_json aggregate(const std::vector<MetricItems>& items, int bootstrap_iters = 100000);

// Python's len(re.split(r"\s+", text)): the harness's word count for word_perplexity.
size_t count_words(const std::string& text);

}  // namespace lathe::eval
