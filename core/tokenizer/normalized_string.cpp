#include "core/tokenizer/normalized_string.h"

#include <algorithm>
#include <cstdint>

#include "core/tokenizer/unicode.h"

namespace lathe::tok {

NormalizedString::NormalizedString(std::string_view s, size_t shift)
    : text_(s), orig_begin_(shift), orig_end_(shift + s.size()) {
    align_.resize(s.size());
    size_t i = 0;
    while (i < s.size()) {
        size_t n = utf8_len(static_cast<unsigned char>(s[i]));
        for (size_t k = 0; k < n; ++k) align_[i + k] = {shift + i, shift + i + n};
        i += n;
    }
}

Offsets NormalizedString::original_range(size_t b, size_t e) const {
    if (b >= e) {
        // An empty normalized string stands for its whole original range, as in Rust.
        if (text_.empty()) return {orig_begin_, orig_end_};
        return {orig_begin_ + b, orig_begin_ + e};
    }
    // Offsets past the end (BPE byte fallback with a prefix counts prefix bytes) are clamped.
    e = std::min(e, align_.size());
    b = std::min(b, e);
    if (b == e) return {orig_end_, orig_end_};
    return {align_[b].first, align_[e - 1].second};
}

NormalizedString NormalizedString::slice(size_t b, size_t e) const {
    NormalizedString out;
    out.text_.assign(text_, b, e - b);
    out.align_.assign(align_.begin() + b, align_.begin() + e);
    auto r = original_range(b, e);
    out.orig_begin_ = r.first;
    out.orig_end_ = r.second;
    return out;
}

void NormalizedString::transform_range(size_t b, size_t e, const std::vector<Change>& dest, size_t initial_removed) {
    std::string text;
    std::vector<Offsets> align;
    text.reserve(text_.size() + dest.size());
    align.reserve(align_.size() + dest.size());
    text.append(text_, 0, b);
    align.insert(align.end(), align_.begin(), align_.begin() + b);
    auto char_len = [&](size_t at) { return at < text_.size() ? utf8_len(static_cast<unsigned char>(text_[at])) : 0; };
    size_t offset = b;
    for (size_t k = 0; k < initial_removed; ++k) offset += char_len(offset);
    for (const auto& [c, change] : dest) {
        Offsets a;
        if (change > 0) {
            // An inserted character shares the alignment of the character before it.
            a = offset < 1 ? Offsets{orig_begin_, orig_begin_} : align_[offset - 1];
        } else {
            a = offset < align_.size() ? align_[offset] : Offsets{orig_end_, orig_end_};
            offset += char_len(offset);
            for (int k = 0; k < -change; ++k) offset += char_len(offset);
        }
        size_t before = text.size();
        append_utf8(text, c);
        align.insert(align.end(), text.size() - before, a);
    }
    text.append(text_, e, std::string::npos);
    align.insert(align.end(), align_.begin() + e, align_.end());
    text_ = std::move(text);
    align_ = std::move(align);
}

void NormalizedString::map_bytes(const std::string (&table)[256]) {
    // Hot in byte-level tokenizers: size once, then write in place.
    size_t n = 0;
    for (unsigned char c : text_) n += table[c].size();
    std::string text(n, '\0');
    std::vector<Offsets> align(n);
    size_t w = 0;
    for (size_t i = 0; i < text_.size(); ++i) {
        const std::string& rep = table[static_cast<unsigned char>(text_[i])];
        for (size_t k = 0; k < rep.size(); ++k, ++w) {
            text[w] = rep[k];
            align[w] = align_[i];
        }
    }
    text_ = std::move(text);
    align_ = std::move(align);
}

void NormalizedString::filter(const std::function<bool(char32_t)>& keep) {
    // Removed characters are charged to the kept character before them (Rust NormalizedString::filter).
    std::vector<Change> dest;
    dest.reserve(text_.size());
    int removed = 0;
    size_t removed_start = 0;
    bool have_last = false;
    char32_t last = 0;
    size_t i = 0;
    while (i < text_.size()) {
        char32_t c = next_char(text_, i);
        if (keep(c)) {
            if (have_last) dest.push_back({last, -removed});
            else removed_start = static_cast<size_t>(removed);
            last = c;
            have_last = true;
            removed = 0;
        } else {
            ++removed;
        }
    }
    if (have_last) dest.push_back({last, -removed});
    else removed_start = static_cast<size_t>(removed);
    transform(dest, removed_start);
}

void NormalizedString::map(const std::function<char32_t(char32_t)>& f) {
    std::vector<Change> dest;
    dest.reserve(text_.size());
    size_t i = 0;
    while (i < text_.size()) dest.push_back({f(next_char(text_, i)), 0});
    transform(dest, 0);
}

void NormalizedString::lowercase() {
    std::vector<Change> dest;
    dest.reserve(text_.size());
    std::u32string buf;
    size_t i = 0;
    while (i < text_.size()) {
        buf.clear();
        to_lower(next_char(text_, i), buf);
        for (size_t k = 0; k < buf.size(); ++k) dest.push_back({buf[k], k > 0 ? 1 : 0});
    }
    transform(dest, 0);
}

void NormalizedString::unicode_normalize(int form_index) {
    // Mirrors the unicode-normalization-alignments crate the Rust library uses: each source
    // character's decomposition is tagged 0 (first char) / +1 (the rest); canonical reordering moves
    // the tags with the characters; composing S with C leaves tag(S) + tag(C) - 1. transform() then
    // aligns positionally, so offsets match the Rust library even where marks were reordered.
    const auto form = static_cast<NormForm>(form_index);
    if (std::all_of(text_.begin(), text_.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) return;
    const bool compat = form == NormForm::NFKC || form == NormForm::NFKD;
    std::vector<Change> out;
    out.reserve(text_.size() + 8);
    std::u32string buf;
    for (size_t i = 0; i < text_.size();) {
        char32_t c = next_char(text_, i);
        buf.clear();
        decompose(c, compat, buf);
        for (size_t k = 0; k < buf.size(); ++k) out.push_back({buf[k], k == 0 ? 0 : 1});
    }
    for (size_t i = 0; i < out.size();) {
        if (combining_class(out[i].c) == 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < out.size() && combining_class(out[j].c) != 0) ++j;
        std::stable_sort(out.begin() + i, out.begin() + j, [](const Change& a, const Change& b) {
            return combining_class(a.c) < combining_class(b.c);
        });
        i = j;
    }
    if (form == NormForm::NFC || form == NormForm::NFKC) {
        size_t starter = SIZE_MAX, w = 0;
        uint8_t last_cc = 0;
        for (size_t r = 0; r < out.size(); ++r) {
            Change ch = out[r];
            uint8_t cc = combining_class(ch.c);
            if (starter != SIZE_MAX && (w == starter + 1 || (last_cc != 0 && last_cc < cc))) {
                if (char32_t composed = compose_pair(out[starter].c, ch.c)) {
                    out[starter].c = composed;
                    out[starter].change += ch.change - 1;
                    continue;
                }
            }
            if (cc == 0) starter = w;
            last_cc = cc;
            out[w++] = ch;
        }
        out.resize(w);
    }
    transform(out, 0);
}

void NormalizedString::prepend(std::string_view s) {
    // As Rust: the first prefix character replaces the first character (taking its alignment), the
    // rest of the prefix and that character are re-inserted after it.
    if (text_.empty() || s.empty()) return;
    size_t first_len = utf8_len(static_cast<unsigned char>(text_[0]));
    size_t i = 0;
    char32_t next = next_char(text_, i);
    std::vector<Change> dest;
    for (size_t j = 0; j < s.size();) dest.push_back({next_char(s, j), dest.empty() ? 0 : 1});
    dest.push_back({next, 1});
    transform_range(0, first_len, dest, 0);
}

void NormalizedString::append(std::string_view s) {
    if (text_.empty() || s.empty()) return;
    size_t last = text_.size() - 1;
    while (last > 0 && (static_cast<unsigned char>(text_[last]) & 0xC0) == 0x80) --last;
    size_t i = last;
    char32_t prev = next_char(text_, i);
    std::vector<Change> dest{{prev, 0}};
    size_t j = 0;
    while (j < s.size()) dest.push_back({next_char(s, j), 1});
    transform_range(last, text_.size(), dest, 0);
}

void NormalizedString::replace(const Pattern& pattern, std::string_view content) {
    std::vector<Pattern::Piece> pieces;
    pattern.find_matches(text_, pieces);
    std::u32string repl;
    for (size_t j = 0; j < content.size();) repl.push_back(next_char(content, j));
    // Rust replaces matches from the left, shifting later offsets by the size change so far.
    long long delta = 0;
    for (const auto& p : pieces) {
        if (!p.is_match) continue;
        size_t b = static_cast<size_t>(static_cast<long long>(p.begin) + delta);
        size_t e = static_cast<size_t>(static_cast<long long>(p.end) + delta);
        size_t n_removed = 0;
        for (size_t k = b; k < e; k += utf8_len(static_cast<unsigned char>(text_[k]))) ++n_removed;
        std::vector<Change> dest;
        for (char32_t c : repl) dest.push_back({c, 1});
        // Rust: new chars are all "inserted" and every matched char is removed up front.
        size_t before = text_.size();
        transform_range(b, e, dest, n_removed);
        delta += static_cast<long long>(text_.size()) - static_cast<long long>(before);
    }
}

void NormalizedString::strip(bool left, bool right) {
    std::u32string chars;
    size_t i = 0;
    while (i < text_.size()) chars.push_back(next_char(text_, i));
    size_t lead = 0, trail = 0;
    if (left) while (lead < chars.size() && is_whitespace(chars[lead])) ++lead;
    if (right) while (trail < chars.size() - lead && is_whitespace(chars[chars.size() - 1 - trail])) ++trail;
    if (lead == 0 && trail == 0) return;
    std::vector<Change> dest;
    for (size_t k = lead; k < chars.size() - trail; ++k) {
        int change = k + 1 == chars.size() - trail ? -static_cast<int>(trail) : 0;
        dest.push_back({chars[k], change});
    }
    transform(dest, lead);
}

void NormalizedString::split(const Pattern& pattern, SplitBehavior behavior, bool invert,
                             std::vector<NormalizedString>& out) const {
    std::vector<Pattern::Piece> m;
    pattern.find_matches(text_, m);
    if (invert)
        for (auto& p : m) p.is_match = !p.is_match;
    struct Keep {
        size_t b, e;
        bool remove;
    };
    std::vector<Keep> splits;
    splits.reserve(m.size());
    switch (behavior) {
        case SplitBehavior::Isolated:
            for (auto& p : m) splits.push_back({p.begin, p.end, false});
            break;
        case SplitBehavior::Removed:
            for (auto& p : m) splits.push_back({p.begin, p.end, p.is_match});
            break;
        case SplitBehavior::Contiguous: {
            bool prev = false;
            for (auto& p : m) {
                if (p.is_match == prev && !splits.empty()) splits.back().e = p.end;
                else splits.push_back({p.begin, p.end, false});
                prev = p.is_match;
            }
            break;
        }
        case SplitBehavior::MergedWithPrevious: {
            bool prev = false;
            for (auto& p : m) {
                if (p.is_match && !prev && !splits.empty()) splits.back().e = p.end;
                else splits.push_back({p.begin, p.end, false});
                prev = p.is_match;
            }
            break;
        }
        case SplitBehavior::MergedWithNext: {
            bool prev = false;
            for (size_t k = m.size(); k-- > 0;) {
                auto& p = m[k];
                if (p.is_match && !prev && !splits.empty()) splits.back().b = p.begin;
                else splits.push_back({p.begin, p.end, false});
                prev = p.is_match;
            }
            std::reverse(splits.begin(), splits.end());
            break;
        }
    }
    for (auto& s : splits)
        if (!s.remove) out.push_back(slice(s.b, s.e));
}

}  // namespace lathe::tok
