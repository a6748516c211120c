// Random access to the rows of an uncompressed JSONL or CSV/TSV file, for views that page through a
// million rows: one pass records where each row starts (16 bytes a row); row(i) parses just that row
// from the memory-mapped file.
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/data/read_rows.h"
#include "core/util/mapped_file.h"

namespace lathe::data {

class DatasetFile {
public:
    // Throws lathe::Error when PATH cannot be opened, is compressed or is not JSONL/CSV/TSV (read
    // those with read_rows), or (CSV) has an unusable header row.
    static DatasetFile open(const std::string& path, const ReadOptions& options = {});

    size_t size() const { return starts_.size(); }
    int64_t line(size_t i) const { return lines_[i]; }  // where row i starts in the file
    // Row i, or why it cannot be used (the same Problem read_rows reports for it).
    std::variant<RawRow, Problem> row(size_t i) const;
    const std::string& path() const { return path_; }
    FileFormat format() const { return format_; }
    const std::vector<std::string>& columns() const { return header_; }  // CSV/TSV: the header row

private:
    std::string path_;
    FileFormat format_ = FileFormat::jsonl;
    std::shared_ptr<MappedFile> file_;
    std::vector<uint64_t> starts_;  // byte offset of each row
    std::vector<int64_t> lines_;    // 1-based line of each row
    std::vector<std::string> header_;
};

}  // namespace lathe::data
