// Reading dataset files row by row, in file order, with memory that does not grow with the file:
// JSONL, JSON (an array, or an object holding one), CSV/TSV, plain text (.txt/.md, one document each),
// folders of .txt/.md, each also as .gz or .zst; Parquet (not compressed further) when built with Arrow
// (LATHE_HAS_PARQUET, see docs/data.md).
#pragma once

#include <functional>
#include <string>

#include "core/data/rows.h"

namespace lathe::data {

enum class FileFormat { jsonl, json, csv, tsv, text, folder, parquet };
const char* file_format_name(FileFormat f);

struct ReadOptions {
    std::string format;      // "" = from the extension (after .gz/.zst): jsonl, json, csv, tsv, text, parquet
    std::string json_field;  // JSON object files: the key holding the rows; "" = the object's only array
};

// The format PATH is read as. Throws lathe::Error for an unknown extension or format name.
FileFormat detect_format(const std::string& path, const ReadOptions& options = {});

using RowCallback = std::function<void(RawRow&& row)>;
using ProblemCallback = std::function<void(Problem&& problem)>;

// Calls on_row for each usable row and on_problem for each row that cannot be read (bad JSON with the
// parser's message, invalid UTF-8, not an object, a CSV row with the wrong number of fields), both
// with file and line. A file that breaks off (truncated .gz, a JSON array whose syntax breaks) ends
// with a Problem at the line where reading stopped. Throws lathe::Error when PATH cannot be opened
// or has an unknown format; a callback may throw to stop early.
void read_rows(const std::string& path, const ReadOptions& options, const RowCallback& on_row, const ProblemCallback& on_problem);

}  // namespace lathe::data
