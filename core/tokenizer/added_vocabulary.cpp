#include "core/tokenizer/added_vocabulary.h"

#include <algorithm>

#include "core/tokenizer/unicode.h"

namespace lathe::tok {

void TokenMatcher::add(std::string_view content, size_t token_index) {
    if (content.empty()) return;
    uint32_t node = 0;
    for (unsigned char c : content) {
        auto& edges = nodes_[node].edges;
        auto it = std::lower_bound(edges.begin(), edges.end(), c, [](const auto& e, unsigned char v) { return e.first < v; });
        if (it != edges.end() && it->first == c) {
            node = it->second;
        } else {
            uint32_t next = static_cast<uint32_t>(nodes_.size());
            edges.insert(it, {c, next});
            nodes_.emplace_back();
            node = next;
        }
    }
    // The first token with a given content wins, as in the Rust automaton's pattern order.
    if (nodes_[node].token < 0) nodes_[node].token = static_cast<int64_t>(token_index);
    first_byte_[static_cast<unsigned char>(content[0])] = true;
}

bool TokenMatcher::longest_at(std::string_view text, size_t pos, size_t& len, size_t& token) const {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) return false;
    uint32_t node = 0;
    bool found = false;
    for (size_t i = pos; i < text.size(); ++i) {
        const auto& edges = nodes_[node].edges;
        unsigned char c = static_cast<unsigned char>(text[i]);
        auto it = std::lower_bound(edges.begin(), edges.end(), c, [](const auto& e, unsigned char v) { return e.first < v; });
        if (it == edges.end() || it->first != c) break;
        node = it->second;
        if (nodes_[node].token >= 0) {
            found = true;
            len = i + 1 - pos;
            token = static_cast<size_t>(nodes_[node].token);
        }
    }
    return found;
}

void AddedVocabulary::add(const AddedTokenInfo& token) {
    size_t index = tokens_.size();
    tokens_.push_back(token);
    decoded_content_.push_back(token.content);
    by_content_.emplace(token.content, token.id);
    by_id_.emplace(token.id, index);
    if (token.special) special_.insert(token.content);
}

void AddedVocabulary::build(const Normalizer* normalizer) {
    // Rust orders special tokens before the other added tokens when building the automata.
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < tokens_.size(); ++i) {
            const auto& t = tokens_[i];
            if (t.special != (pass == 0)) continue;
            if (!t.normalized) {
                raw_.add(t.content, i);
            } else {
                NormalizedString n(t.content, 0);
                if (normalizer) normalizer->normalize(n);
                normalized_.add(n.get(), i);
                decoded_content_[i] = n.get();
            }
        }
    }
}

std::optional<int64_t> AddedVocabulary::token_to_id(std::string_view content) const {
    auto it = by_content_.find(content);
    return it == by_content_.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

const std::string* AddedVocabulary::id_to_token(int64_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &decoded_content_[it->second];
}

namespace {

// The regex \w class single_word uses: letters, marks, decimal and letter numbers, connector
// punctuation, ZWNJ/ZWJ (not other numbers such as '½').
bool is_word_char(char32_t c) {
    if (c < 0x80) return c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    if (c == 0x200C || c == 0x200D) return true;
    auto k = category(c);
    return (k >= Category::Lu && k <= Category::Me) || k == Category::Nd || k == Category::Nl || k == Category::Pc;
}

char32_t last_char(std::string_view s) {
    size_t i = s.size();
    while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
    if (i > 0) --i;
    size_t k = i;
    return next_char(s, k);
}

}  // namespace

void AddedVocabulary::find_matches(std::string_view s, const TokenMatcher& m, std::vector<Match>& out) const {
    out.clear();
    if (s.empty() || m.empty()) {
        out.push_back({-1, 0, s.size()});
        return;
    }
    size_t start_offset = 0, pos = 0;
    while (pos < s.size()) {
        size_t len = 0, index = 0;
        if (!m.longest_at(s, pos, len, index)) {
            ++pos;
            continue;
        }
        size_t start = pos, stop = pos + len;
        pos = stop;  // the automaton resumes after the raw match, whatever lstrip/rstrip did
        const AddedTokenInfo& t = tokens_[index];
        if (t.single_word) {
            bool start_space = start == 0 || !is_word_char(last_char(s.substr(0, start)));
            bool stop_space = true;
            if (stop < s.size()) {
                size_t k = stop;
                stop_space = !is_word_char(next_char(s, k));
            }
            if (!start_space || !stop_space) continue;
        }
        if (t.lstrip) {
            size_t b = start;
            while (b > 0) {
                size_t p = b - 1;
                while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
                size_t k = p;
                if (!is_whitespace(next_char(s, k))) break;
                b = p;
            }
            start = std::max(b, start_offset);
        }
        if (t.rstrip) {
            size_t e = stop;
            while (e < s.size()) {
                size_t k = e;
                if (!is_whitespace(next_char(s, k))) break;
                e = k;
            }
            stop = e;
        }
        if (start_offset < start) out.push_back({-1, start_offset, start});
        out.push_back({static_cast<int64_t>(index), start, stop});
        start_offset = stop;
    }
    if (start_offset != s.size()) out.push_back({-1, start_offset, s.size()});
}

void AddedVocabulary::split_with(NormalizedString&& s, const TokenMatcher& m, std::vector<Split>& out) const {
    std::vector<Match> matches;
    find_matches(s.get(), m, matches);
    if (matches.size() == 1 && matches[0].token < 0) {
        // No added token here (the usual case): keep the piece whole instead of copying a slice.
        if (!s.empty()) out.push_back(Split{std::move(s), {}, false});
        return;
    }
    for (const auto& mt : matches) {
        if (mt.begin >= mt.end) continue;  // empty pieces are dropped
        Split split{s.slice(mt.begin, mt.end), {}, false};
        if (mt.token >= 0) {
            split.tokenized = true;
            // The token covers the whole piece, whitespace lstrip/rstrip took included; its value is
            // the piece's text, which ByteLevel offset trimming then looks at (as in Rust).
            split.tokens.push_back({tokens_[static_cast<size_t>(mt.token)].id, 0, mt.end - mt.begin});
        }
        out.push_back(std::move(split));
    }
}

void AddedVocabulary::extract_and_normalize(std::string_view text, const Normalizer* normalizer,
                                            std::vector<Split>& out) const {
    out.clear();
    if (text.empty()) return;
    std::vector<Split> raw;
    split_with(NormalizedString(text, 0), raw_, raw);
    for (auto& piece : raw) {
        if (piece.tokenized) {
            out.push_back(std::move(piece));
            continue;
        }
        if (normalizer) normalizer->normalize(piece.text);
        if (piece.text.empty()) continue;
        split_with(std::move(piece.text), normalized_, out);
    }
}

}  // namespace lathe::tok
