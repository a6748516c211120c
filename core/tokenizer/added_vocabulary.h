// Added tokens (Rust tokenizer/added_vocabulary.rs): split out of the text before the model sees it.
// Tokens with normalized=false are matched on the raw text first; the pieces between them are then
// normalized and searched for normalized=true tokens (whose contents are normalized the same way).
// Matching is leftmost-longest, like the Rust library's Aho-Corasick automaton.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/tokenizer/components.h"
#include "core/tokenizer/vocab.h"

namespace lathe::tok {

// A byte trie over token contents answering "longest token starting here".
class TokenMatcher {
public:
    void add(std::string_view content, size_t token_index);
    bool empty() const { return nodes_.size() <= 1; }
    // Length and token index of the longest token at text[pos], or false.
    bool longest_at(std::string_view text, size_t pos, size_t& len, size_t& token) const;

private:
    struct Node {
        std::vector<std::pair<unsigned char, uint32_t>> edges;  // sorted by byte
        int64_t token = -1;
    };
    std::vector<Node> nodes_{Node{}};
    bool first_byte_[256] = {};
};

class AddedVocabulary {
public:
    void add(const AddedTokenInfo& token);
    // Builds the matchers; call after all tokens are added and the normalizer is known.
    void build(const Normalizer* normalizer);

    // Splits `text` (starting at original offset 0) into added-token pieces and normalized pieces.
    void extract_and_normalize(std::string_view text, const Normalizer* normalizer, std::vector<Split>& out) const;

    const std::vector<AddedTokenInfo>& tokens() const { return tokens_; }
    std::optional<int64_t> token_to_id(std::string_view content) const;
    const std::string* id_to_token(int64_t id) const;
    bool is_special(std::string_view content) const { return special_.count(std::string(content)) != 0; }

private:
    struct Match {
        int64_t token;  // index into tokens_, or -1 for text
        size_t begin, end;  // the piece, with any whitespace lstrip/rstrip took
    };
    void find_matches(std::string_view s, const TokenMatcher& m, std::vector<Match>& out) const;
    void split_with(NormalizedString&& s, const TokenMatcher& m, std::vector<Split>& out) const;

    std::vector<AddedTokenInfo> tokens_;
    // What id_to_token (and so decode) gives: the content, normalized for normalized=true tokens, as
    // tokenizers 0.23 stores it.
    std::vector<std::string> decoded_content_;
    std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> by_content_;
    std::unordered_map<int64_t, size_t> by_id_;
    std::unordered_set<std::string> special_;
    TokenMatcher raw_, normalized_;
};

}  // namespace lathe::tok
