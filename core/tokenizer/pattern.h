// What normalizers, pre-tokenizers and decoders search for: a literal string, a regex (PCRE2) or a
// character class, all answering find_matches() the way the Rust library's Pattern trait does.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/regex.h"

namespace lathe::tok {

// What a normalizer or pre-tokenizer searches for: a literal string, a regex or a character class.
class Pattern {
public:
    static Pattern literal(std::string s);
    static Pattern regex(const std::string& re);
    static Pattern predicate(std::function<bool(char32_t)> f);

    struct Piece {
        size_t begin, end;
        bool is_match;
    };
    // Splits text into consecutive pieces, marking the matches (Rust Pattern::find_matches).
    void find_matches(std::string_view text, std::vector<Piece>& out) const;

private:
    std::string literal_;
    std::shared_ptr<const Regex> regex_;
    std::function<bool(char32_t)> predicate_;
};

}  // namespace lathe::tok
