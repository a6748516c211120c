// The format parsers behind read_rows (read_rows.cpp picks one) and DatasetFile's random access.
// Internal to core/data.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/data/byte_source.h"
#include "core/data/read_rows.h"

namespace lathe::data {

// One JSON object's text (starting at `line`) -> a row, or why not (invalid UTF-8, bad JSON, not an object).
std::variant<RawRow, Problem> parse_json_value(std::string_view text, const std::string& file, int64_t line);
// One JSONL line (not blank) -> a row, or why not.
std::variant<RawRow, Problem> parse_jsonl_line(std::string_view text, const std::string& file, int64_t line);
void read_jsonl(TextStream& in, const std::string& file, const RowCallback& on_row, const ProblemCallback& on_problem);

void read_json(TextStream& in, const std::string& file, const std::string& json_field, const RowCallback& on_row, const ProblemCallback& on_problem);

// One CSV record (RFC 4180: quoted fields may hold delimiters, "" and line breaks). False at the end
// of the input; blank lines are skipped. Throws lathe::Error when a quoted field never ends.
struct CsvRecord {
    int64_t line = 0;  // where the record starts
    std::vector<std::string> fields;
};
bool read_csv_record(TextStream& in, char delimiter, CsvRecord& record);
// Why a header row cannot name the columns (no name, a repeated name, invalid UTF-8), or "".
std::string csv_header_fault(const std::vector<std::string>& header);
// A record under the header -> a row of string fields, or why not.
std::variant<RawRow, Problem> csv_row(const std::vector<std::string>& header, CsvRecord&& record, const std::string& file);
void read_csv(TextStream& in, const std::string& file, char delimiter, const RowCallback& on_row, const ProblemCallback& on_problem);

// A Parquet file, row by row (row i's line is i, 1-based). Throws lathe::Error when the file cannot be
// opened or is not Parquet; a column type with no JSON form is one Problem and no rows. Built only with
// Arrow (LATHE_HAS_PARQUET).
void read_parquet(const std::string& file, const RowCallback& on_row, const ProblemCallback& on_problem);

// The whole input as one document {"text": ...}.
void read_text(TextStream& in, const std::string& file, const RowCallback& on_row, const ProblemCallback& on_problem);

// "parse error at line 1, column 7: syntax error ..." without nlohmann's "[json.exception...]" prefix.
std::string json_error_message(const std::exception& e);
// Problem for invalid UTF-8 at byte `offset` of the text that starts at `line`, naming the line it is on.
Problem invalid_utf8_problem(std::string_view text, size_t offset, const std::string& file, int64_t line);

}  // namespace lathe::data
