// JSON Lines: one object per line; blank lines are skipped.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/data/formats.h"
#include "core/util/utf8.h"

namespace lathe::data {

std::string json_error_message(const std::exception& e) {
    std::string what = e.what();
    if (what.rfind("[json.exception.", 0) == 0) {
        auto close = what.find("] ");
        if (close != std::string::npos) what = what.substr(close + 2);
    }
    return what;
}

Problem invalid_utf8_problem(std::string_view text, size_t offset, const std::string& file, int64_t line) {
    size_t line_start = 0;
    for (size_t i = 0; i < offset; ++i)
        if (text[i] == '\n') { ++line; line_start = i + 1; }
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(text[offset]));
    return Problem{file, line, "",
                   "invalid UTF-8 (byte " + std::string(hex) + " at column " + std::to_string(offset - line_start + 1) +
                       "); save the file as UTF-8"};
}

// A parse error of text that starts at `line`, placed at the line and column where the parser stopped.
static Problem json_parse_problem(std::string_view text, const nlohmann::json::parse_error& e, const std::string& file, int64_t line) {
    size_t stop = e.byte > 0 ? std::min<size_t>(e.byte - 1, text.size()) : 0;
    size_t column = 1;
    for (size_t i = 0; i < stop; ++i) {
        if (text[i] == '\n') { ++line; column = 1; } else { ++column; }
    }
    std::string message = json_error_message(e);
    // nlohmann counts lines within the text it was given; we have just said where in the file it is.
    auto colon = message.find(": ");
    if (message.rfind("parse error at line ", 0) == 0 && colon != std::string::npos) message = message.substr(colon + 2);
    return Problem{file, line, "", "not valid JSON at column " + std::to_string(column) + ": " + message};
}

std::variant<RawRow, Problem> parse_json_value(std::string_view text, const std::string& file, int64_t line) {
    size_t bad = find_invalid_utf8(text);
    if (bad != std::string_view::npos) return invalid_utf8_problem(text, bad, file, line);
    RawRow row{file, line, {}};
    try {
        row.value = nlohmann::ordered_json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        return json_parse_problem(text, e, file, line);
    } catch (const nlohmann::json::exception& e) {
        return Problem{file, line, "", "not valid JSON: " + json_error_message(e)};
    }
    if (!row.value.is_object())
        return Problem{file, line, "", std::string("expected a JSON object (one row), found ") + row.value.type_name()};
    return row;
}

std::variant<RawRow, Problem> parse_jsonl_line(std::string_view text, const std::string& file, int64_t line) {
    return parse_json_value(text, file, line);
}

void read_jsonl(TextStream& in, const std::string& file, const RowCallback& on_row, const ProblemCallback& on_problem) {
    in.skip_bom();
    std::string text;
    while (true) {
        int64_t line = in.line();
        if (!in.read_line(text)) break;
        if (text.find_first_not_of(" \t") == std::string::npos) continue;
        auto parsed = parse_jsonl_line(text, file, line);
        if (auto* row = std::get_if<RawRow>(&parsed)) on_row(std::move(*row));
        else on_problem(std::move(std::get<Problem>(parsed)));
    }
}

void read_text(TextStream& in, const std::string& file, const RowCallback& on_row, const ProblemCallback& on_problem) {
    in.skip_bom();
    std::string text = in.read_all();
    size_t bad = find_invalid_utf8(text);
    if (bad != std::string::npos) {
        on_problem(invalid_utf8_problem(text, bad, file, 1));
        return;
    }
    RawRow row{file, 1, nlohmann::ordered_json::object()};
    row.value["text"] = std::move(text);
    on_row(std::move(row));
}

}  // namespace lathe::data
