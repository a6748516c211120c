// CSV and TSV with a header row, RFC 4180 quoting: a field in double quotes may hold the delimiter,
// line breaks and "" (one quote). Every value is read as a string, as written. Like Python's csv
// module and pyarrow, a quote inside an unquoted field is kept as a character, and blank lines are
// skipped.
#include <nlohmann/json.hpp>

#include "core/data/formats.h"
#include "core/util/utf8.h"

namespace lathe::data {

bool read_csv_record(TextStream& in, char delimiter, CsvRecord& record) {
    record.fields.clear();
    // Blank lines between records are skipped.
    for (int c = in.peek(); c == '\n' || c == '\r'; c = in.peek()) in.get();
    if (in.peek() < 0) return false;
    record.line = in.line();
    std::string field;
    while (true) {
        int c = in.get();
        if (c == '"' && field.empty()) {  // a quoted field
            int64_t start = in.line();
            while (true) {
                int q = in.get();
                if (q < 0) throw ReadError("the quoted field that starts on line " + std::to_string(start) + " never ends (a '\"' is missing)");
                if (q == '"') {
                    if (in.peek() == '"') {
                        in.get();
                        field.push_back('"');
                        continue;
                    }
                    break;
                }
                field.push_back(static_cast<char>(q));
            }
            continue;  // text after the closing quote is kept, as Python's csv does
        }
        if (c == delimiter) {
            record.fields.push_back(std::move(field));
            field.clear();
            continue;
        }
        if (c < 0 || c == '\n') {
            record.fields.push_back(std::move(field));
            return true;
        }
        if (c == '\r' && (in.peek() == '\n' || in.peek() < 0)) continue;  // CRLF line ends
        field.push_back(static_cast<char>(c));
    }
}

std::variant<RawRow, Problem> csv_row(const std::vector<std::string>& header, CsvRecord&& record, const std::string& file) {
    if (record.fields.size() != header.size())
        return Problem{file, record.line, "",
                       "expected " + std::to_string(header.size()) + " fields (as the header has), found " + std::to_string(record.fields.size()) +
                           " (a field holding the delimiter or a line break must be in double quotes)"};
    RawRow row{file, record.line, nlohmann::ordered_json::object()};
    for (size_t i = 0; i < header.size(); ++i) {
        size_t bad = find_invalid_utf8(record.fields[i]);
        if (bad != std::string::npos) {
            Problem p = invalid_utf8_problem(record.fields[i], bad, file, record.line);
            p.field = header[i];
            return p;
        }
        row.value[header[i]] = std::move(record.fields[i]);
    }
    return row;
}

std::string csv_header_fault(const std::vector<std::string>& header) {
    for (size_t i = 0; i < header.size(); ++i) {
        const std::string& name = header[i];
        std::string where = "column " + std::to_string(i + 1) + " of the header row ";
        if (find_invalid_utf8(name) != std::string::npos) return where + "is not valid UTF-8";
        if (name.empty()) return where + "has no name";
        for (size_t j = 0; j < i; ++j)
            if (header[j] == name) return where + "repeats the name '" + name + "'";
    }
    return "";
}

void read_csv(TextStream& in, const std::string& file, char delimiter, const RowCallback& on_row, const ProblemCallback& on_problem) {
    in.skip_bom();
    CsvRecord header;
    if (!read_csv_record(in, delimiter, header)) return;  // an empty file has no rows
    // Without usable column names no row can be read: one Problem for the file, at the header.
    std::string fault = csv_header_fault(header.fields);
    if (!fault.empty()) {
        on_problem(Problem{file, header.line, "", fault + "; no rows were read"});
        return;
    }
    CsvRecord record;
    while (read_csv_record(in, delimiter, record)) {
        auto parsed = csv_row(header.fields, std::move(record), file);
        if (auto* row = std::get_if<RawRow>(&parsed)) on_row(std::move(*row));
        else on_problem(std::move(std::get<Problem>(parsed)));
    }
}

}  // namespace lathe::data
