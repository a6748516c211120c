// Unicode helpers the tokenizer components share: UTF-8 coding, character classes as Rust's `char`
// methods define them, case mapping and normalization forms. Tables come from unicode_tables_*.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/utf8.h"

namespace lathe::tok {

// General categories, in the order gen_unicode_tables.py numbers them.
enum class Category : uint8_t {
    Cn, Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe,
    Pi, Pf, Po, Sm, Sc, Sk, So, Zs, Zl, Zp, Cc, Cf, Cs, Co
};

// Decodes the code point at s[i] (which must be valid UTF-8) and advances i past it.
char32_t next_char(std::string_view s, size_t& i);
// Length in bytes of the UTF-8 sequence whose lead byte is b.
inline size_t utf8_len(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }
inline size_t utf8_len(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }
using lathe::append_utf8;  // core/util/utf8.h

// Replaces each maximal invalid UTF-8 subsequence with U+FFFD, as Python's
// bytes.decode("utf-8", "replace") and Rust's String::from_utf8_lossy do. Returns true when the text
// was already valid (and then leaves `out` untouched). When `map` is given and the text was invalid,
// it receives, for every byte offset of `out` (and its end), the matching offset of `in`.
bool sanitize_utf8(std::string_view in, std::string& out, std::vector<size_t>* map = nullptr);

Category category(char32_t c);
uint8_t combining_class(char32_t c);
bool is_whitespace(char32_t c);        // Rust char::is_whitespace (the White_Space property)
bool is_punctuation(char32_t c);       // categories P*
bool is_other(char32_t c);             // Cc, Cf, Co, Cs (not Cn), as Rust's unicode_categories

// Full lowercase mapping of one character (Rust char::to_lowercase); appends to out.
void to_lower(char32_t c, std::u32string& out);

// The full canonical (or compatibility) decomposition of one character, appended to out.
void decompose(char32_t c, bool compat, std::u32string& out);
// The primary composite of a + b, or 0 when there is none.
char32_t compose_pair(char32_t a, char32_t b);

enum class NormForm { NFC, NFD, NFKC, NFKD };

}  // namespace lathe::tok
