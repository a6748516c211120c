// Encoding one code point as UTF-8: shared by the tokenizer and the chat-template engine.
#pragma once

#include <string>

namespace lathe {

// Appends code point c (any value below 0x110000) to out as UTF-8.
void append_utf8(std::string& out, char32_t c);

}  // namespace lathe
