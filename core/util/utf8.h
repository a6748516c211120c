// Encoding one code point as UTF-8: shared by the tokenizer and the chat-template engine; and checking
// that bytes read from a file are UTF-8 (the dataset readers).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lathe {

// Appends code point c (any value below 0x110000) to out as UTF-8.
void append_utf8(std::string& out, char32_t c);

// The offset of the first byte that is not part of well-formed UTF-8 (overlong forms, surrogates and
// code points above U+10FFFF are ill-formed too), or std::string_view::npos when all of it is.
size_t find_invalid_utf8(std::string_view bytes);

}  // namespace lathe
