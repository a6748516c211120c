// GPT-2's byte <-> printable character table, shared by the ByteLevel pre-tokenizer, decoder and
// post-processor.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace lathe::tok {

struct ByteLevelTable {
    std::array<char32_t, 256> byte_to_char{};
    std::string byte_to_utf8[256];  // byte_to_char, UTF-8 encoded
    // char -> byte for chars < 324 (the table's range); -1 where the char is not a byte's.
    std::array<int16_t, 324> char_to_byte{};
    ByteLevelTable();
};

const ByteLevelTable& byte_level_table();

class NormalizedString;
// Rewrites every byte of the text as its table character; all bytes of a character keep that
// character's alignment (Rust ByteLevel pre-tokenizer / normalizer).
void to_byte_level(NormalizedString& s);

}  // namespace lathe::tok
