#include "core/eval/doc_format.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/util/error.h"

namespace lathe::eval {

using Json = nlohmann::ordered_json;

namespace {

// Decodes one code point at s[i] (well-formed UTF-8 is assumed: the readers checked it).
char32_t decode_at(const std::string& s, size_t& i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    return cp;
}

}  // namespace

bool py_isspace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool py_isdigit(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string py_rstrip(const std::string& s) {
    size_t i = 0, keep = 0;
    while (i < s.size()) {
        char32_t c = decode_at(s, i);
        if (!py_isspace(c)) keep = i;
    }
    return s.substr(0, keep);
}

std::string py_strip(const std::string& s) {
    std::string r = py_rstrip(s);
    size_t i = 0, start = 0;
    while (i < r.size()) {
        size_t before = i;
        if (!py_isspace(decode_at(r, i))) {
            start = before;
            return r.substr(start);
        }
    }
    return "";
}

size_t py_len(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::string py_str(const Json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
    if (v.is_null()) return "None";
    if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
    if (v.is_number_float()) {
        // Python's repr: the shortest text that reads back to the same double.
        double d = v.get<double>();
        for (int precision = 1; precision <= 17; ++precision) {
            std::ostringstream os;
            os.precision(precision);
            os << d;
            if (std::stod(os.str()) == d) {
                std::string t = os.str();
                if (t.find_first_of(".einn") == std::string::npos) t += ".0";
                return t;
            }
        }
    }
    return v.dump();
}

namespace {

struct LiteralParser {
    const std::string& s;
    size_t i = 0;

    [[noreturn]] void fail(const std::string& what) const {
        throw Error("not a Python literal (" + what + " at character " + std::to_string(i) + "): " + s);
    }
    void skip_space() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    }
    Json value() {
        skip_space();
        if (i >= s.size()) fail("unexpected end");
        char c = s[i];
        if (c == '[' || c == '(') return sequence(c == '[' ? ']' : ')');
        if (c == '\'' || c == '"') return string();
        if (s.compare(i, 4, "True") == 0) return i += 4, Json(true);
        if (s.compare(i, 5, "False") == 0) return i += 5, Json(false);
        if (s.compare(i, 4, "None") == 0) return i += 4, Json();
        return number();
    }
    Json sequence(char close) {
        ++i;
        Json a = Json::array();
        skip_space();
        if (i < s.size() && s[i] == close) return ++i, a;
        while (true) {
            a.push_back(value());
            skip_space();
            if (i < s.size() && s[i] == ',') {
                ++i;
                skip_space();
                if (i < s.size() && s[i] == close) return ++i, a;
                continue;
            }
            if (i < s.size() && s[i] == close) return ++i, a;
            fail("expected ',' or '" + std::string(1, close) + "'");
        }
    }
    Json string() {
        char quote = s[i++];
        std::string out;
        while (i < s.size() && s[i] != quote) {
            char c = s[i++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i >= s.size()) fail("unfinished escape");
            char e = s[i++];
            switch (e) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case '0': out += '\0'; break;
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case 'x':
                case 'u':
                case 'U': {
                    int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (i + digits > s.size()) fail("short \\" + std::string(1, e) + " escape");
                    char32_t cp = static_cast<char32_t>(std::stoul(s.substr(i, digits), nullptr, 16));
                    i += digits;
                    append_utf8(out, cp);
                    break;
                }
                default: out += '\\', out += e;  // Python keeps unknown escapes as written
            }
        }
        if (i >= s.size()) fail("unterminated string");
        ++i;
        return out;
    }
    Json number() {
        size_t start = i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                                ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
            ++i;
        std::string t = s.substr(start, i - start);
        if (t.empty() || t == "-" || t == "+") fail("unexpected character");
        if (t.find_first_of(".eE") == std::string::npos) return static_cast<int64_t>(std::stoll(t));
        return std::stod(t);
    }
    static void append_utf8(std::string& out, char32_t c) {
        if (c < 0x80) out += static_cast<char>(c);
        else if (c < 0x800) out += static_cast<char>(0xC0 | (c >> 6)), out += static_cast<char>(0x80 | (c & 0x3F));
        else if (c < 0x10000)
            out += static_cast<char>(0xE0 | (c >> 12)), out += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), out += static_cast<char>(0x80 | (c & 0x3F));
        else
            out += static_cast<char>(0xF0 | (c >> 18)), out += static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
                out += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), out += static_cast<char>(0x80 | (c & 0x3F));
    }
};

}  // namespace

Json python_literal(const std::string& text) {
    LiteralParser p{text};
    Json v = p.value();
    p.skip_space();
    if (p.i != text.size()) p.fail("trailing text");
    return v;
}

DocFormatter::DocFormatter(const TaskConfig& config, std::vector<std::string> features)
    : config_(config), features_(std::move(features)) {}

std::string DocFormatter::render(const std::string& source, const Doc& doc, const char* key) const {
    auto it = templates_.find(source);
    if (it == templates_.end()) {
        TemplateSyntax syntax{.trim_blocks = false, .lstrip_blocks = false, .keep_trailing_newline = true};
        auto parsed = std::make_shared<const ChatTemplate>(ChatTemplate::parse(source, config_.file + ": " + key, syntax));
        it = templates_.emplace(source, std::move(parsed)).first;
    }
    RenderOptions options;
    options.strict_undefined = true;
    return it->second->render(doc, options);
}

namespace {
bool is_feature(const std::vector<std::string>& features, const std::string& name) {
    return std::find(features.begin(), features.end(), name) != features.end();
}
}  // namespace

std::string DocFormatter::text(const Doc& doc) const {
    const Json& spec = config_.doc_to_text;
    if (spec.is_string()) {
        const std::string& s = spec.get_ref<const std::string&>();
        if (is_feature(features_, s)) {
            const Json& v = doc[s];
            if (!v.is_string()) throw Error(config_.file + ": doc_to_text: field '" + s + "' holds " + v.dump() + ", not text");
            return v.get<std::string>();
        }
        std::string t = render(s, doc, "doc_to_text");
        if (py_isdigit(t) && has_choices())
            throw Error(config_.file + ": doc_to_text: renders a number: several inputs per document (Winogrande style) are not supported");
        return t;
    }
    throw Error(config_.file + ": doc_to_text: an index (several inputs per document) is not supported; give a field or a template");
}

Json DocFormatter::target(const Doc& doc) const {
    const Json& spec = config_.doc_to_target;
    if (spec.is_number_integer() || spec.is_array()) return spec;
    const std::string& s = spec.get_ref<const std::string&>();
    if (is_feature(features_, s)) return doc[s];
    std::string t = render(s, doc, "doc_to_target");
    if (py_isdigit(t) && has_choices()) return python_literal(t);
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']') {
        try {
            return python_literal(t);
        } catch (const Error&) {
            return t;
        }
    }
    return t;
}

std::vector<std::string> DocFormatter::choices(const Doc& doc) const {
    const Json& spec = config_.doc_to_choice;
    Json list;
    if (spec.is_string()) {
        const std::string& s = spec.get_ref<const std::string&>();
        if (is_feature(features_, s)) list = doc[s];
        else {
            std::string rendered = render(s, doc, "doc_to_choice");
            try {
                list = python_literal(rendered);
            } catch (const Error& e) {
                throw Error(config_.file + ": doc_to_choice: " + e.what());
            }
        }
    } else if (spec.is_array()) {
        list = spec;
    } else if (spec.is_object()) {
        list = Json::array();
        for (const auto& [_, v] : spec.items()) list.push_back(v);
    }
    if (!list.is_array()) throw Error(config_.file + ": doc_to_choice: gives " + list.dump() + ", not a list of choices");
    std::vector<std::string> out;
    for (const auto& v : list) {
        if (!v.is_string()) throw Error(config_.file + ": doc_to_choice: choice " + v.dump() + " is not text");
        out.push_back(v.get<std::string>());
    }
    return out;
}

std::string DocFormatter::description(const Doc& doc) const {
    const std::string& d = config_.description;
    if (d.empty()) return "";
    if (is_feature(features_, d)) return py_str(doc[d]);
    return render(d, doc, "description");
}

}  // namespace lathe::eval
