#include "core/data/read_rows.h"

#include <algorithm>
#include <filesystem>

#include "core/data/formats.h"
#include "core/util/error.h"

namespace lathe::data {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lowercase(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool is_text_document(const std::string& path) {
    std::string name = lowercase(without_compression_suffix(path));
    return ends_with(name, ".txt") || ends_with(name, ".md");
}

// One pass of a parser over one file; a ReadError (truncated .gz, broken JSON structure) becomes the
// file's last Problem, at the line where reading stopped.
void read_one_file(const std::string& path, FileFormat format, const ReadOptions& options, const RowCallback& on_row,
                   const ProblemCallback& on_problem) {
    TextStream in(open_byte_source(path));
    try {
        switch (format) {
            case FileFormat::jsonl: read_jsonl(in, path, on_row, on_problem); break;
            case FileFormat::json: read_json(in, path, options.json_field, on_row, on_problem); break;
            case FileFormat::csv: read_csv(in, path, ',', on_row, on_problem); break;
            case FileFormat::tsv: read_csv(in, path, '\t', on_row, on_problem); break;
            case FileFormat::text: read_text(in, path, on_row, on_problem); break;
            case FileFormat::folder:
            case FileFormat::parquet: LATHE_ASSERT(false);
        }
    } catch (const ReadError& e) {
        on_problem(Problem{path, in.line(), "", std::string(e.what()) + "; the rest of the file was not read"});
    }
}

// A .json file whose first line is a whole JSON object and which has more lines is JSON Lines under
// another name (the Hugging Face `json` loader accepts both); otherwise it is an array or an object
// holding one.
bool json_file_is_jsonl(const std::string& path) {
    TextStream in(open_byte_source(path));
    try {
        in.skip_bom();
        for (int c = in.peek(); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = in.peek()) in.get();
        if (in.peek() != '{') return false;
        // The first line, up to a limit: a whole file on one line is JSON, not lines, and is not held here.
        int64_t line = in.line();
        std::string first;
        for (int c = in.get(); c >= 0 && c != '\n'; c = in.get()) {
            if (first.size() >= (64u << 20)) return false;
            first.push_back(static_cast<char>(c));
        }
        if (!std::holds_alternative<RawRow>(parse_jsonl_line(first, path, line))) return false;
        std::string next;
        while (in.read_line(next))
            if (next.find_first_not_of(" \t") != std::string::npos) return true;
    } catch (const ReadError&) {
        return false;  // read_json reports it
    }
    return false;
}

}  // namespace

const char* file_format_name(FileFormat f) {
    switch (f) {
        case FileFormat::jsonl: return "jsonl";
        case FileFormat::json: return "json";
        case FileFormat::csv: return "csv";
        case FileFormat::tsv: return "tsv";
        case FileFormat::text: return "text";
        case FileFormat::folder: return "folder";
        case FileFormat::parquet: return "parquet";
    }
    return "?";
}

FileFormat detect_format(const std::string& path, const ReadOptions& options) {
    const std::string known = "jsonl, json, csv, tsv, text or parquet";
    if (!options.format.empty()) {
        for (FileFormat f : {FileFormat::jsonl, FileFormat::json, FileFormat::csv, FileFormat::tsv, FileFormat::text, FileFormat::parquet})
            if (options.format == file_format_name(f)) return f;
        throw Error("unknown dataset format '" + options.format + "' (expected " + known + ")");
    }
    std::error_code ec;
    if (fs::is_directory(path, ec)) return FileFormat::folder;
    std::string name = lowercase(without_compression_suffix(path));
    if (ends_with(name, ".jsonl") || ends_with(name, ".ndjson")) return FileFormat::jsonl;
    if (ends_with(name, ".json")) return FileFormat::json;
    if (ends_with(name, ".csv")) return FileFormat::csv;
    if (ends_with(name, ".tsv") || ends_with(name, ".tab")) return FileFormat::tsv;
    if (ends_with(name, ".txt") || ends_with(name, ".md")) return FileFormat::text;
    if (ends_with(name, ".parquet")) return FileFormat::parquet;
    throw Error(path + ": cannot tell the dataset format from the file name; expected .jsonl, .json, .csv, .tsv, .txt, .md or .parquet "
                       "(optionally .gz or .zst), a folder of .txt/.md files, or a format named explicitly (" + known + ")");
}

void read_rows(const std::string& path, const ReadOptions& options, const RowCallback& on_row, const ProblemCallback& on_problem) {
    FileFormat format = detect_format(path, options);
    if (format == FileFormat::parquet) {
#ifdef LATHE_HAS_PARQUET
        read_parquet(path, on_row, on_problem);
        return;
#else
        throw Error(path + ": Parquet support not built into this Lathe; convert the file to JSONL first "
                           "(python -c \"import pandas; pandas.read_parquet('in.parquet').to_json('out.jsonl', orient='records', lines=True)\")");
#endif
    }
    if (format == FileFormat::folder) {
        // Each .txt/.md file (also .gz/.zst) below the folder is one document, in name order.
        std::vector<fs::path> files;
        for (const auto& entry : fs::recursive_directory_iterator(path)) {
            if (!entry.is_regular_file()) continue;
            std::string name = entry.path().filename().string();
            if (name.empty() || name[0] == '.') continue;  // hidden files (.DS_Store, editor swap files)
            files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            if (is_text_document(file.string())) read_one_file(file.string(), FileFormat::text, options, on_row, on_problem);
            else on_problem(Problem{file.string(), 0, "", "not a .txt or .md document, so not read as part of the folder"});
        }
        return;
    }
    if (format == FileFormat::json && options.format.empty() && json_file_is_jsonl(path)) format = FileFormat::jsonl;
    read_one_file(path, format, options, on_row, on_problem);
}

}  // namespace lathe::data
