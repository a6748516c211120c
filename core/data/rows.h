// Dataset rows as the rest of Lathe sees them, whatever file they came from. Torch-free.
//
// The pipeline, one job per file in core/data/:
//   file (JSONL/JSON/CSV/TSV/Parquet/text, gz/zst)  --read_rows-->  RawRow (a JSON object + its line)
//   RawRow  --to_sample (detected or configured RowType, column mapping)-->  Sample
//   Sample  --render (tokenizer, chat/prompt template, masking, truncation)-->  tokens + labels
// Every row that cannot be used becomes a Problem naming file, line and why; none is dropped silently.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lathe::data {

// Why one row (or, with line 0, a whole file) cannot be used.
struct Problem {
    std::string file;
    int64_t line = 0;   // 1-based line where the row starts (a JSON array element or quoted CSV field may span
                        // lines; invalid UTF-8 names the line of the bad byte); 0 = the whole file
    std::string field;  // the field at fault ("messages[2].role"), or "" for the whole row
    std::string message;
    std::string to_string() const;  // "data.jsonl:17: messages[2].role: unknown role 'bot' (expected ...)"
};

// One row as read from a file: a JSON object (CSV/Parquet columns become its fields; a plain-text
// document becomes {"text": ...}).
struct RawRow {
    std::string file;
    int64_t line = 0;
    nlohmann::ordered_json value;
};

enum class RowType { automatic, alpaca, chat, prompt_completion, text, pretokenized, classification };
const char* row_type_name(RowType t);
std::optional<RowType> parse_row_type(const std::string& name);  // "alpaca", "chat" (also "sharegpt"), ...

struct Message {
    std::string role;     // system / user / assistant / tool (ShareGPT's human/gpt/... mapped to these)
    std::string content;
    nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // other keys (tool_calls, name, ...) passed to the template
};

// A row in the shape of its type; only the fields of `type` are set.
struct Sample {
    RowType type = RowType::text;
    std::string file;
    int64_t line = 0;
    std::vector<Message> messages;                       // chat; alpaca is turned into system?/user/assistant here too
    std::string prompt, completion;                      // prompt_completion
    std::string text;                                    // text, classification
    std::string label;                                   // classification (as written in the file)
    std::vector<int64_t> input_ids, labels, attention_mask;  // pretokenized (labels/mask optional: empty)
};

// Which fields hold what, when a file does not use the usual names ({"instruction": "question"} etc.).
using ColumnMapping = std::map<std::string, std::string>;  // Lathe's field name -> the file's field name

}  // namespace lathe::data
