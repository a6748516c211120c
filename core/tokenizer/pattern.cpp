#include "core/tokenizer/pattern.h"

#include "core/tokenizer/components.h"
#include "core/tokenizer/unicode.h"

namespace lathe::tok {

Pattern Pattern::literal(std::string s) {
    Pattern p;
    p.literal_ = std::move(s);
    return p;
}

Pattern Pattern::regex(const std::string& re) {
    Pattern p;
    p.regex_ = std::make_shared<const Regex>(re);
    return p;
}

Pattern Pattern::predicate(std::function<bool(char32_t)> f) {
    Pattern p;
    p.predicate_ = std::move(f);
    return p;
}

void Pattern::find_matches(std::string_view text, std::vector<Piece>& out) const {
    out.clear();
    if (predicate_) {
        // Every matching character is a match of its own (Rust `impl Pattern for Fn(char) -> bool`).
        size_t last = 0, i = 0;
        while (i < text.size()) {
            size_t b = i;
            char32_t c = next_char(text, i);
            if (predicate_(c)) {
                if (last < b) out.push_back({last, b, false});
                out.push_back({b, i, true});
                last = i;
            }
        }
        if (last < text.size()) out.push_back({last, text.size(), false});
        return;
    }
    if (text.empty()) {
        out.push_back({0, 0, false});
        return;
    }
    size_t prev = 0;
    if (!regex_) {
        if (literal_.empty()) {
            out.push_back({0, text.size(), false});
            return;
        }
        size_t pos = 0;
        while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
            if (prev != pos) out.push_back({prev, pos, false});
            out.push_back({pos, pos + literal_.size(), true});
            prev = pos = pos + literal_.size();
        }
    } else {
        // Onig's find_iter: an empty match right where the previous match ended is skipped.
        size_t pos = 0, last_end = std::string_view::npos, b = 0, e = 0;
        while (pos <= text.size() && regex_->find(text, pos, b, e)) {
            if (b == e && last_end == e) {
                if (e >= text.size()) break;
                pos = e + utf8_len(static_cast<unsigned char>(text[e]));
                continue;
            }
            if (prev != b) out.push_back({prev, b, false});
            out.push_back({b, e, true});
            prev = e;
            last_end = e;
            if (b == e) {
                if (e >= text.size()) break;
                pos = e + utf8_len(static_cast<unsigned char>(text[e]));
            } else {
                pos = e;
            }
        }
    }
    if (prev != text.size()) out.push_back({prev, text.size(), false});
}

Pattern parse_pattern(const json& j, const std::string& where) {
    if (!j.is_object() || j.size() != 1) fail(where, "expected {\"String\": ...} or {\"Regex\": ...}");
    if (const json* s = member(j, "String")) {
        if (!s->is_string()) fail(where, "String pattern must be a string");
        return Pattern::literal(s->get<std::string>());
    }
    if (const json* r = member(j, "Regex")) {
        if (!r->is_string()) fail(where, "Regex pattern must be a string");
        try {
            return Pattern::regex(r->get<std::string>());
        } catch (const std::exception& e) {
            fail(where, e.what());
        }
    }
    fail(where, "expected {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace lathe::tok
