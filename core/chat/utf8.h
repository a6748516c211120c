// UTF-8 helpers for the Python string methods templates call: Python works on code points, so
// len(), slicing, strip() and iteration must too, and its whitespace includes Unicode spaces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lathe::chat::utf8 {

// Splits into code points, each kept as its UTF-8 bytes (invalid bytes become one unit each).
std::vector<std::string> split_chars(const std::string& s);
// Number of code points.
size_t length(const std::string& s);
// Decodes the code point at s[pos] and its byte length.
uint32_t decode(const std::string& s, size_t pos, size_t* len);
void append(std::string& out, uint32_t cp);
// str.isspace() for one code point.
bool is_space(uint32_t cp);
// Python's str.strip/lstrip/rstrip; `chars` null means whitespace.
std::string strip(const std::string& s, const std::string* chars, bool left, bool right);
// str.upper/lower for ASCII and Latin-1/Latin Extended/Greek/Cyrillic letters.
std::string upper(const std::string& s);
std::string lower(const std::string& s);
bool is_upper_cp(uint32_t cp);
bool is_lower_cp(uint32_t cp);
uint32_t upper_cp(uint32_t cp);
uint32_t lower_cp(uint32_t cp);

}  // namespace lathe::chat::utf8
