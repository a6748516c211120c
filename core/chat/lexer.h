// Splits a template into text and tag tokens the way jinja2's lexer does with transformers'
// settings (trim_blocks, lstrip_blocks, keep_trailing_newline=False): whitespace control is
// applied here, so the parser only ever sees the text that will be printed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lathe::chat {

enum class Tok { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok type;
    std::string text;  // Text: the data; Name/Op: the spelling; String: the decoded value
    int64_t int_value = 0;
    double float_value = 0;
    int line = 1;
};

struct LexOptions {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
    bool keep_trailing_newline = false;
};

// Throws TemplateError("NAME:LINE: ...") for an unterminated tag, comment or string.
std::vector<Token> lex(const std::string& source, const std::string& name, const LexOptions& options = {});

}  // namespace lathe::chat
