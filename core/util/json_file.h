#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace lathe {

// Reads a JSON file; errors name the file and, for syntax errors, the line and column.
nlohmann::json read_json_file(const std::string& path);

// Calls each(line_number, value) for every non-blank line of a JSONL file, in order. A line that is
// not JSON is an error naming "path:line:"; errors thrown by `each` should name it the same way.
void for_each_jsonl(const std::string& path, const std::function<void(size_t, const nlohmann::json&)>& each);

}  // namespace lathe
