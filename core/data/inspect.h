// What is inside a dataset before GPU hours are spent on it: row count and type, empty or missing
// fields, exact and near duplicates, every unusable row with file and line, and (with a tokenizer)
// token lengths per field and in total, the share over the max length, and rendered examples with the
// untrained tokens marked. Used by `lathe data inspect` and the GUI (through the JSON). Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "core/data/minhash.h"
#include "core/data/read_rows.h"
#include "core/data/render.h"
#include "core/data/rows.h"
#include "core/text/text_tokenizer.h"

namespace lathe::data {

struct InspectOptions {
    ReadOptions read;
    RowType type = RowType::automatic;  // automatic: the most common type among the first 100 rows
    ColumnMapping mapping;
    bool strict = false;                // the first problem throws lathe::Error
    int64_t max_length = 2048;          // for the share of rows over it (tokens; rows are not truncated here)
    int examples = 3;                   // rendered examples (with a tokenizer)
    RenderOptions render;               // how rows become tokens (its max_length is not used: nothing is cut)
    MinHashOptions minhash;
    int64_t near_duplicate_rows = 200000;  // rows compared for near-duplicates (about 0.5 KB of memory each)
    size_t problems_listed = 10000;     // problems kept with file and line; all are counted
    size_t duplicates_listed = 100;     // duplicate pairs kept as examples; all are counted
};

// Token counts of many rows: exact counts per length (bounded by the longest row, not the row count).
struct LengthStats {
    std::map<int64_t, int64_t> counts;  // length -> rows
    int64_t rows = 0, sum = 0;
    void add(int64_t length);
    int64_t percentile(double p) const;  // the smallest length with at least p of the rows at or below it
    struct Bin {
        int64_t from, to, count;  // rows with from <= length < to
    };
    std::vector<Bin> histogram(int bins = 16) const;  // equal widths of a round number
};

struct RowPlace {  // where a row is
    std::string file;
    int64_t line = 0;
};

struct DuplicatePair {
    RowPlace row, of;          // `row` repeats the earlier `of`
    double similarity = 1.0;  // 1 for exact duplicates; estimated Jaccard for near-duplicates
};

struct FieldStats {
    std::string name;  // as the file spells it
    int64_t present = 0, missing = 0, empty = 0;  // empty: "", [], {} or null
};

struct MarkedSpan {
    std::string text;
    bool trained = false;
};

struct RenderedExample {
    RowPlace at;
    std::vector<MarkedSpan> spans;  // the rendered text in order, split where training starts or stops
    int64_t tokens = 0, trained_tokens = 0;
};

struct InspectReport {
    std::vector<std::pair<std::string, std::string>> files;  // path, format
    RowType type = RowType::automatic;   // the type rows were read as
    bool type_detected = false;          // true: detected; false: given (or none could be detected)
    // Preference pairs (prompt/chosen/rejected, detected when most rows have chosen and rejected): usable_rows
    // counts the pairs; pairs whose chosen and rejected are identical are problems with their line; with a
    // tokenizer field_lengths has prompt, chosen and rejected (TRL's DPO tokenization, completions only for
    // chosen and rejected) and the row length is the longer of the two sequences.
    bool preference = false;
    int64_t identical_pairs = 0;
    int64_t rows = 0;                    // rows seen: usable + unusable
    int64_t usable_rows = 0;
    std::vector<FieldStats> fields;
    int64_t exact_duplicates = 0;
    std::vector<DuplicatePair> exact_duplicate_examples;
    int64_t near_duplicates = 0, near_duplicate_rows_checked = 0;
    std::vector<DuplicatePair> near_duplicate_examples;
    MinHashOptions minhash;
    int64_t problem_count = 0;
    std::vector<Problem> problems;       // the first problems_listed
    // With a tokenizer:
    bool tokenized = false;
    int64_t max_length = 0, over_max_length = 0, tokens = 0, trained_tokens = 0;
    LengthStats total_lengths;
    std::map<std::string, LengthStats> field_lengths;  // system/user/assistant/prompt/completion/text/...
    std::vector<RenderedExample> examples;
};

// Reads every file in order (memory bounded by the duplicate tables, not the file sizes). Throws
// lathe::Error for a file that cannot be opened, and with options.strict at the first problem.
InspectReport inspect_dataset(const std::vector<std::string>& paths, const InspectOptions& options, const TextTokenizer* tokenizer);

nlohmann::ordered_json inspect_report_json(const InspectReport& report);  // fields: docs/data.md
void print_inspect_report(const InspectReport& report, std::ostream& out);

}  // namespace lathe::data
