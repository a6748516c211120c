// An lm-evaluation-harness task YAML, read into what Lathe honours: local json/csv/parquet data, the
// splits, doc_to_text / doc_to_target / doc_to_choice, delimiters, description, the four output types,
// generation_kwargs (greedy), filter_list (regex, take_first) and the metrics acc, acc_norm,
// exact_match, perplexity, word_perplexity, byte_perplexity, bits_per_byte. Any key Lathe cannot honour
// is an error naming the file, line and key. `include:` is followed as the harness does (the included
// file's keys, overridden by this file's). Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lathe::eval {

enum class OutputType { multiple_choice, loglikelihood, loglikelihood_rolling, generate_until };
const char* output_type_name(OutputType t);

// doc_to_text / doc_to_target / doc_to_choice as written: a field name or Jinja template (string),
// an int, or a list (doc_to_choice, doc_to_target).
using DocField = nlohmann::ordered_json;

struct FilterStep {
    std::string function;         // regex or take_first
    std::string regex_pattern = R"(#### (\-?[0-9\.\,]+))";
    int64_t group_select = 0;
    std::string fallback = "[invalid]";
};
struct FilterPipeline {
    std::string name;             // the results' key suffix: "acc,<name>"
    std::vector<FilterStep> steps;
};

struct MetricSpec {
    std::string name;             // acc, acc_norm, exact_match, perplexity, word_perplexity, ...
    // exact_match options (the harness's exact_match_hf_evaluate)
    bool ignore_case = false;
    bool ignore_punctuation = false;
    bool ignore_numbers = false;
    std::vector<std::string> regexes_to_ignore;
};

struct GenerationSpec {
    std::vector<std::string> until;
    int64_t max_gen_toks = 256;
};

struct TaskConfig {
    std::string file;             // the YAML it came from
    std::string task;
    std::string dataset_path;     // json, csv or parquet
    // Split name -> local files (datasets' data_files; one string means the split "train").
    std::map<std::string, std::vector<std::string>> data_files;
    std::optional<std::string> training_split, validation_split, test_split, fewshot_split;
    DocField doc_to_text, doc_to_target, doc_to_choice;  // null when absent
    std::string description;
    std::string target_delimiter = " ";
    std::string fewshot_delimiter = "\n\n";
    std::optional<int64_t> num_fewshot;
    OutputType output_type = OutputType::generate_until;
    GenerationSpec generation;
    std::vector<FilterPipeline> filters;  // default: one pipeline "none" = take_first
    std::vector<MetricSpec> metrics;      // default: the harness's for the output type
    std::string fewshot_sampler = "default";  // default or first_n
};

// Reads and checks PATH; throws lathe::Error listing every problem ("t.yaml:7: process_docs: ...").
TaskConfig load_task_config(const std::string& path);

}  // namespace lathe::eval
