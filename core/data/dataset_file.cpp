#include "core/data/dataset_file.h"

#include <cstring>

#include "core/data/formats.h"
#include "core/util/error.h"

namespace lathe::data {

namespace {

char delimiter_of(FileFormat f) { return f == FileFormat::tsv ? '\t' : ','; }

}  // namespace

DatasetFile DatasetFile::open(const std::string& path, const ReadOptions& options) {
    DatasetFile d;
    d.path_ = path;
    d.format_ = detect_format(path, options);
    if (compression_of(path) != Compression::none)
        throw Error(path + ": random access needs an uncompressed file; decompress it, or read it in order with read_rows");
    if (d.format_ != FileFormat::jsonl && d.format_ != FileFormat::csv && d.format_ != FileFormat::tsv)
        throw Error(path + ": random access is for JSONL and CSV/TSV files; read " + file_format_name(d.format_) + " files in order with read_rows");
    d.file_ = MappedFile::open(path);
    const char* data = reinterpret_cast<const char*>(d.file_->data());
    size_t size = d.file_->size();
    size_t pos = size >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;

    if (d.format_ == FileFormat::jsonl) {
        // Every line that is not blank is a row.
        int64_t line = 1;
        while (pos < size) {
            const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', size - pos));
            size_t end = nl ? static_cast<size_t>(nl - data) : size;
            for (size_t i = pos; i < end; ++i) {
                char c = data[i];
                if (c != ' ' && c != '\t' && c != '\r') {
                    d.starts_.push_back(pos);
                    d.lines_.push_back(line);
                    break;
                }
            }
            pos = end + 1;
            ++line;
        }
        return d;
    }

    TextStream in(memory_byte_source(data + pos, size - pos));
    CsvRecord record;
    try {
        if (!read_csv_record(in, delimiter_of(d.format_), record)) return d;
    } catch (const ReadError& e) {
        throw Error(path + ": the header row: " + e.what());
    }
    d.header_ = record.fields;
    std::string fault = csv_header_fault(d.header_);
    if (!fault.empty()) throw Error(path + ":" + std::to_string(record.line) + ": " + fault);
    while (true) {
        for (int c = in.peek(); c == '\n' || c == '\r'; c = in.peek()) in.get();  // blank lines between rows
        uint64_t start = pos + in.offset();
        int64_t line = in.line();
        try {
            if (!read_csv_record(in, delimiter_of(d.format_), record)) break;
        } catch (const ReadError&) {
            // A quoted field that never ends: the last entry, whose row() reports it.
            d.starts_.push_back(start);
            d.lines_.push_back(line);
            break;
        }
        d.starts_.push_back(start);
        d.lines_.push_back(line);
    }
    return d;
}

std::variant<RawRow, Problem> DatasetFile::row(size_t i) const {
    LATHE_ASSERT(i < starts_.size());
    const char* data = reinterpret_cast<const char*>(file_->data());
    size_t start = starts_[i];
    size_t end = i + 1 < starts_.size() ? starts_[i + 1] : file_->size();
    if (format_ == FileFormat::jsonl) {
        const char* nl = static_cast<const char*>(std::memchr(data + start, '\n', end - start));
        size_t stop = nl ? static_cast<size_t>(nl - data) : end;
        if (stop > start && data[stop - 1] == '\r') --stop;
        return parse_jsonl_line(std::string_view(data + start, stop - start), path_, lines_[i]);
    }
    TextStream in(memory_byte_source(data + start, end - start), lines_[i]);
    CsvRecord record;
    try {
        if (!read_csv_record(in, delimiter_of(format_), record)) return Problem{path_, lines_[i], "", "no row here"};
    } catch (const ReadError& e) {
        return Problem{path_, in.line(), "", std::string(e.what()) + "; the rest of the file was not read"};
    }
    return csv_row(header_, std::move(record), path_);
}

}  // namespace lathe::data
