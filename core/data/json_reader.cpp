// JSON files: an array of row objects, or an object holding one such array ({"data": [...]}), read one
// element at a time. Each element's bytes are collected by matching brackets and strings, then parsed
// on their own, so a bad row is one Problem and the rows after it are still read.
#include <nlohmann/json.hpp>

#include "core/data/formats.h"

namespace lathe::data {

namespace {

void skip_whitespace(TextStream& in) {
    for (int c = in.peek(); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = in.peek()) in.get();
}

// Copies one JSON value's bytes from `in` to `out` (skips them when out is null). Brackets are only
// counted here; the value is parsed afterwards. Throws lathe::Error when the input ends inside it.
void capture_value(TextStream& in, std::string* out) {
    int c = in.peek();
    auto take = [&]() {
        int b = in.get();
        if (b < 0) throw ReadError("the file ends inside a value");
        if (out) out->push_back(static_cast<char>(b));
        return b;
    };
    if (c == '{' || c == '[' || c == '"') {
        int depth = 0;
        bool in_string = false, escape = false;
        do {
            int b = take();
            if (in_string) {
                if (escape) escape = false;
                else if (b == '\\') escape = true;
                else if (b == '"') in_string = false;
            } else if (b == '"') {
                in_string = true;
            } else if (b == '{' || b == '[') {
                ++depth;
            } else if (b == '}' || b == ']') {
                --depth;
            }
        } while (depth > 0 || in_string);
        return;
    }
    // A number, true, false or null: up to the next delimiter.
    while ((c = in.peek()) >= 0 && c != ',' && c != ']' && c != '}' && c != ' ' && c != '\t' && c != '\n' && c != '\r') take();
}

struct JsonReader {
    TextStream& in;
    const std::string& file;
    const RowCallback& on_row;
    const ProblemCallback& on_problem;

    void read_array() {
        in.get();  // '['
        skip_whitespace(in);
        if (in.peek() == ']') {
            in.get();
            return;
        }
        std::string text;
        while (true) {
            skip_whitespace(in);
            int64_t line = in.line();
            text.clear();
            capture_value(in, &text);
            auto parsed = parse_json_value(text, file, line);
            if (auto* row = std::get_if<RawRow>(&parsed)) on_row(std::move(*row));
            else on_problem(std::move(std::get<Problem>(parsed)));
            skip_whitespace(in);
            int c = in.get();
            if (c == ',') continue;
            if (c == ']') return;
            throw ReadError(c < 0 ? "the file ends inside the array (no closing ']')"
                              : std::string("expected ',' or ']' after the row that starts at line ") + std::to_string(line) + ", found '" +
                                    static_cast<char>(c) + "'");
        }
    }

    void read_object(const std::string& json_field) {
        in.get();  // '{'
        std::string used, keys, text;
        while (true) {
            skip_whitespace(in);
            if (in.peek() == '}') {
                in.get();
                break;
            }
            if (in.peek() != '"') throw ReadError("expected a key (a string) in the top-level object");
            int64_t key_line = in.line();
            text.clear();
            capture_value(in, &text);
            std::string key;
            try {
                key = nlohmann::json::parse(text).get<std::string>();
            } catch (const nlohmann::json::exception& e) {
                throw ReadError("a key of the top-level object is not valid JSON: " + json_error_message(e));
            }
            keys += (keys.empty() ? "'" : ", '") + key + "'";
            skip_whitespace(in);
            if (in.get() != ':') throw ReadError("expected ':' after the key '" + key + "'");
            skip_whitespace(in);
            bool is_array = in.peek() == '[';
            if (is_array && used.empty() && (json_field.empty() || key == json_field)) {
                used = key;
                read_array();
            } else {
                if (is_array && json_field.empty())
                    on_problem(Problem{file, key_line, key,
                                       "a second array besides '" + used + "' (the rows were read from '" + used +
                                           "'); choose the key holding the rows with json_field"});
                capture_value(in, nullptr);
            }
            skip_whitespace(in);
            int c = in.get();
            if (c == ',') continue;
            if (c == '}') break;
            throw ReadError(c < 0 ? "the file ends inside the top-level object" : "expected ',' or '}' after the value of '" + key + "'");
        }
        if (used.empty())
            on_problem(Problem{file, 0, json_field,
                               json_field.empty() ? "the top-level object holds no array of rows (its keys: " + keys + ")"
                                                  : "the top-level object has no array under '" + json_field + "' (its keys: " + keys + ")"});
    }
};

}  // namespace

void read_json(TextStream& in, const std::string& file, const std::string& json_field, const RowCallback& on_row, const ProblemCallback& on_problem) {
    JsonReader reader{in, file, on_row, on_problem};
    in.skip_bom();
    skip_whitespace(in);
    int c = in.peek();
    if (c == '[') reader.read_array();
    else if (c == '{') reader.read_object(json_field);
    else throw ReadError("expected a JSON array of rows, or an object holding one");
    skip_whitespace(in);
    if (in.peek() >= 0) throw ReadError("unexpected text after the JSON value (for one object per line, name the file .jsonl)");
}

}  // namespace lathe::data
