#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace lathe {

// Reads a JSON file; errors name the file and, for syntax errors, the line and column.
nlohmann::json read_json_file(const std::string& path);

}  // namespace lathe
