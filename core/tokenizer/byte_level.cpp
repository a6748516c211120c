#include "core/tokenizer/byte_level.h"

#include <vector>

#include "core/tokenizer/normalized_string.h"
#include "core/tokenizer/unicode.h"

namespace lathe::tok {

ByteLevelTable::ByteLevelTable() {
    char_to_byte.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the rest are shifted to 256 + n, in byte order.
    int n = 0;
    for (int b = 0; b < 256; ++b) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
        byte_to_char[b] = c;
        append_utf8(byte_to_utf8[b], c);
        char_to_byte[c] = static_cast<int16_t>(b);
    }
}

const ByteLevelTable& byte_level_table() {
    // Immutable after construction (thread-safe static init); a constant table, not state.
    static const ByteLevelTable table;
    return table;
}

void to_byte_level(NormalizedString& s) { s.map_bytes(byte_level_table().byte_to_utf8); }

}  // namespace lathe::tok
