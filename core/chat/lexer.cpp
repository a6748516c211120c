#include "core/chat/lexer.h"

#include <cctype>
#include <cstring>

#include "core/chat/errors.h"
#include "core/chat/utf8.h"

namespace lathe::chat {
namespace {

// jinja2 normalises every newline sequence to "\n" before lexing (string literals included) and,
// with keep_trailing_newline=False, drops one trailing newline.
std::string normalise(const std::string& source, bool keep_trailing_newline) {
    std::string out;
    out.reserve(source.size());
    for (size_t k = 0; k < source.size(); ++k) {
        if (source[k] == '\r') {
            out += '\n';
            if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
        } else {
            out += source[k];
        }
    }
    if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

// Python's str.rstrip() on the text before a "{%-" tag.
std::string rstrip_ws(const std::string& s) { return utf8::strip(s, nullptr, false, true); }

// Regex \s* as jinja's "-%}\s*" consumes it: ASCII and Unicode whitespace.
size_t skip_ws(const std::string& s, size_t pos) {
    while (pos < s.size()) {
        size_t len = 0;
        uint32_t cp = utf8::decode(s, pos, &len);
        if (!utf8::is_space(cp)) break;
        pos += len;
    }
    return pos;
}

bool only_ws(const std::string& s, size_t from) {
    if (from >= s.size()) return false;  // jinja's \s+ needs at least one character
    return skip_ws(s, from) == s.size();
}

bool starts_with(const std::string& s, size_t pos, const char* prefix) {
    return s.compare(pos, std::strlen(prefix), prefix) == 0;
}

// Decodes a string literal's body as Python's "unicode-escape" codec, which is what jinja2 does.
std::string unescape(const std::string& body) {
    std::string out;
    for (size_t k = 0; k < body.size(); ++k) {
        char c = body[k];
        if (c != '\\' || k + 1 >= body.size()) {
            out += c;
            continue;
        }
        char e = body[++k];
        auto hex = [&](size_t digits) -> bool {
            uint32_t cp = 0;
            for (size_t d = 1; d <= digits; ++d) {
                if (k + d >= body.size() || !std::isxdigit(static_cast<unsigned char>(body[k + d]))) return false;
                char h = body[k + d];
                cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
            }
            utf8::append(out, cp);
            k += digits;
            return true;
        };
        switch (e) {
            case '\n': break;  // line continuation
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'v': out += '\v'; break;
            case 'x':
                if (!hex(2)) out += "\\x";
                break;
            case 'u':
                if (!hex(4)) out += "\\u";
                break;
            case 'U':
                if (!hex(8)) out += "\\U";
                break;
            default:
                if (e >= '0' && e <= '7') {
                    uint32_t cp = static_cast<uint32_t>(e - '0');
                    for (int d = 0; d < 2 && k + 1 < body.size() && body[k + 1] >= '0' && body[k + 1] <= '7'; ++d)
                        cp = cp * 8 + static_cast<uint32_t>(body[++k] - '0');
                    utf8::append(out, cp);
                } else {
                    out += '\\';
                    out += e;
                }
        }
    }
    return out;
}

class Lexer {
public:
    Lexer(const std::string& source, const std::string& name, const LexOptions& options)
        : src_(normalise(source, options.keep_trailing_newline)), name_(name), opt_(options) {}

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;
        while (pos < src_.size()) {
            size_t start = src_.find('{', pos);
            while (start != std::string::npos && start + 1 < src_.size() && !std::strchr("{%#", src_[start + 1]))
                start = src_.find('{', start + 1);
            if (start == std::string::npos || start + 1 >= src_.size()) {
                push_text(src_.substr(pos), pos);
                break;
            }
            char kind = src_[start + 1];
            char sign = start + 2 < src_.size() && (src_[start + 2] == '-' || src_[start + 2] == '+') ? src_[start + 2] : 0;
            size_t raw_end = kind == '%' ? match_raw_begin(start) : 0;
            std::string text = src_.substr(pos, start - pos);
            if (sign == '-') {
                text = rstrip_ws(text);
            } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
                // lstrip_blocks: whitespace between the line start and a block or comment tag goes.
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || line_starting) && only_ws(text, l_pos)) text.resize(l_pos);
            }
            push_text(text, pos);
            if (kind == '#') {
                pos = comment_end(start, sign);
            } else if (raw_end) {
                pos = raw_body(start, raw_end);
            } else {
                pos = tag(start, kind, sign);
            }
            line_starting = pos > 0 && src_[pos - 1] == '\n';
        }
        tokens_.push_back(Token{Tok::Eof, "", 0, 0, line_at(src_.size())});
        return std::move(tokens_);
    }

private:
    int line_at(size_t pos) {
        // Tokens are produced in source order, so counting forward from the last query is enough.
        if (pos < line_pos_) {
            line_pos_ = 0;
            line_ = 1;
        }
        for (; line_pos_ < pos && line_pos_ < src_.size(); ++line_pos_)
            if (src_[line_pos_] == '\n') ++line_;
        return line_;
    }

    [[noreturn]] void fail(size_t pos, const std::string& message) { throw template_error(name_, line_at(pos), message); }

    void push_text(const std::string& text, size_t pos) {
        if (!text.empty()) tokens_.push_back(Token{Tok::Text, text, 0, 0, line_at(pos)});
    }

    // "{%[-+]?\s*raw\s*(-%}\s*|%})": returns the position after it, or 0.
    size_t match_raw_begin(size_t start) {
        size_t p = start + 2;
        if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
        p = skip_ws(src_, p);
        if (!starts_with(src_, p, "raw")) return 0;
        p = skip_ws(src_, p + 3);
        if (starts_with(src_, p, "-%}")) return skip_ws(src_, p + 3);
        if (starts_with(src_, p, "%}")) return p + 2;
        return 0;
    }

    size_t raw_body(size_t start, size_t body) {
        for (size_t p = src_.find("{%", body); p != std::string::npos; p = src_.find("{%", p + 1)) {
            size_t q = p + 2;
            char sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : 0;
            if (sign) ++q;
            q = skip_ws(src_, q);
            if (!starts_with(src_, q, "endraw")) continue;
            q = skip_ws(src_, q + 6);
            size_t end;
            if (starts_with(src_, q, "+%}")) {
                end = q + 3;
            } else if (starts_with(src_, q, "-%}")) {
                end = skip_ws(src_, q + 3);
            } else if (starts_with(src_, q, "%}")) {
                end = q + 2;
                if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
            } else {
                continue;
            }
            std::string text = src_.substr(body, p - body);
            if (sign == '-') {
                text = rstrip_ws(text);
            } else if (sign != '+' && opt_.lstrip_blocks) {
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if (l_pos > 0 && only_ws(text, l_pos)) text.resize(l_pos);
            }
            push_text(text, body);
            return end;
        }
        fail(start, "Missing end of raw directive");
    }

    size_t comment_end(size_t start, char sign) {
        size_t body = start + 2 + (sign ? 1 : 0);
        size_t p = src_.find("#}", body);
        if (p == std::string::npos) fail(start, "Missing end of comment tag");
        char before = src_[p - 1];
        if (p > body && before == '-') return skip_ws(src_, p + 2);
        if (p > body && before == '+') return p + 2;
        size_t end = p + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
        return end;
    }

    // Lexes one {{ ... }} or {% ... %}; returns the position after its end (and what it strips).
    size_t tag(size_t start, char kind, char sign) {
        bool block = kind == '%';
        tokens_.push_back(Token{block ? Tok::BlockBegin : Tok::VarBegin, "", 0, 0, line_at(start)});
        size_t p = start + 2 + (sign ? 1 : 0);
        std::string open;  // closers of the brackets open: "}}" inside a dict literal does not end the tag
        while (true) {
            if (p >= src_.size()) fail(start, std::string("unexpected end of template, expected '") + (block ? "%}" : "}}") + "'");
            if (open.empty()) {
                const char* close = block ? "%}" : "}}";
                if (block && starts_with(src_, p, "+%}")) {
                    end_token(block, p);
                    return p + 3;
                }
                if (src_[p] == '-' && starts_with(src_, p + 1, close)) {
                    end_token(block, p);
                    return skip_ws(src_, p + 3);
                }
                if (starts_with(src_, p, close)) {
                    end_token(block, p);
                    size_t end = p + 2;
                    if (block && opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
                    return end;
                }
            }
            char c = src_[p];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
                ++p;
            } else if (std::isdigit(static_cast<unsigned char>(c))) {
                p = number(p);
            } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                size_t e = p;
                while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
                tokens_.push_back(Token{Tok::Name, src_.substr(p, e - p), 0, 0, line_at(p)});
                p = e;
            } else if (c == '\'' || c == '"') {
                size_t e = p + 1;
                while (e < src_.size() && src_[e] != c) e += src_[e] == '\\' ? 2 : 1;
                if (e >= src_.size()) fail(p, "unexpected char '" + std::string(1, c) + "'");
                tokens_.push_back(Token{Tok::String, unescape(src_.substr(p + 1, e - p - 1)), 0, 0, line_at(p)});
                p = e + 1;
            } else {
                static const char* two[] = {"//", "**", "==", "!=", ">=", "<="};
                std::string op;
                for (const char* t : two)
                    if (starts_with(src_, p, t)) op = t;
                if (op.empty()) {
                    if (!std::strchr("+-/*%~[](){}><=.:|,;", c)) fail(p, "unexpected char '" + std::string(1, c) + "'");
                    op = std::string(1, c);
                }
                if (op == "(" || op == "[" || op == "{") {
                    open.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
                } else if (op == ")" || op == "]" || op == "}") {
                    if (open.empty()) fail(p, "unexpected '" + op + "'");
                    if (open.back() != op[0]) fail(p, "unexpected '" + op + "', expected '" + std::string(1, open.back()) + "'");
                    open.pop_back();
                }
                tokens_.push_back(Token{Tok::Op, op, 0, 0, line_at(p)});
                p += op.size();
            }
        }
    }

    void end_token(bool block, size_t p) {
        tokens_.push_back(Token{block ? Tok::BlockEnd : Tok::VarEnd, "", 0, 0, line_at(p)});
    }

    // Integers and floats with Python's optional '_' digit separators, and 0x/0o/0b integers.
    size_t number(size_t p) {
        if (src_[p] == '0' && p + 2 < src_.size() && std::strchr("xXoObB", src_[p + 1])) {
            int base = std::tolower(src_[p + 1]) == 'x' ? 16 : std::tolower(src_[p + 1]) == 'o' ? 8 : 2;
            size_t e = p + 2;
            std::string digits;
            while (e < src_.size() && (std::isxdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) {
                if (src_[e] != '_') digits += src_[e];
                ++e;
            }
            Token t{Tok::Int, src_.substr(p, e - p), 0, 0, line_at(p)};
            try {
                size_t used = 0;
                t.int_value = std::stoll(digits, &used, base);
                if (used != digits.size()) fail(p, "invalid integer literal " + t.text);
            } catch (const std::logic_error&) {
                fail(p, "invalid integer literal " + t.text);
            }
            tokens_.push_back(t);
            return e;
        }
        auto digits = [&](size_t q) {
            while (q < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[q])) ||
                                       (src_[q] == '_' && q + 1 < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q + 1])))))
                ++q;
            return q;
        };
        size_t e = digits(p);
        bool is_float = false;
        if (e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
            e = digits(e + 1);
            is_float = true;
        }
        if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
            size_t q = e + 1;
            if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
            if (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) {
                e = digits(q);
                is_float = true;
            }
        }
        std::string text;
        for (size_t k = p; k < e; ++k)
            if (src_[k] != '_') text += src_[k];
        Token t{is_float ? Tok::Float : Tok::Int, text, 0, 0, line_at(p)};
        if (is_float) {
            t.float_value = std::stod(text);
        } else {
            try {
                t.int_value = std::stoll(text);
            } catch (const std::exception&) {
                fail(p, "integer literal too large: " + text);
            }
        }
        tokens_.push_back(t);
        return e;
    }

    std::string src_;
    std::string name_;
    LexOptions opt_;
    std::vector<Token> tokens_;
    size_t line_pos_ = 0;
    int line_ = 1;
};

}  // namespace

std::vector<Token> lex(const std::string& source, const std::string& name, const LexOptions& options) {
    return Lexer(source, name, options).run();
}

}  // namespace lathe::chat
