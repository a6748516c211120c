#include "core/util/json_file.h"

#include <fstream>
#include <sstream>

#include "core/util/error.h"

namespace lathe {

nlohmann::json read_json_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        // e.byte is 1-based; turn it into line:column for people.
        size_t line = 1, column = 1;
        for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
            if (text[i] == '\n') { ++line; column = 1; } else { ++column; }
        }
        throw Error(path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": not valid JSON (" + e.what() + ")");
    } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for any type
        throw Error(path + ": not valid JSON (" + e.what() + ")");
    }
}

void for_each_jsonl(const std::string& path, const std::function<void(size_t, const nlohmann::json&)>& each) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json value;
        try {
            value = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            throw Error(path + ":" + std::to_string(number) + ": not valid JSON (" + e.what() + ")");
        }
        each(number, value);
    }
}

}  // namespace lathe
