// Small readers for tokenizer.json fields that report errors as "<component path>: <problem>", e.g.
// "pre_tokenizer.pretokenizers[1]: missing 'pattern'". The file name is added by Tokenizer::from_json.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace lathe::tok {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& where, const std::string& what);

// The member `key`, or nullptr when it is missing or null.
const json* member(const json& j, const char* key);
const json& required(const json& j, const char* key, const std::string& where);
const json& required_object(const json& j, const std::string& where);

std::string get_string(const json& j, const char* key, const std::string& where);
std::string get_string_or(const json& j, const char* key, const std::string& where, const std::string& def);
bool get_bool_or(const json& j, const char* key, const std::string& where, bool def);
int64_t get_int_or(const json& j, const char* key, const std::string& where, int64_t def);
double get_number_or(const json& j, const char* key, const std::string& where, double def);
// The component's "type" (required).
std::string get_type(const json& j, const std::string& where);

std::string child(const std::string& where, const char* key);
std::string child(const std::string& where, const char* key, size_t index);

}  // namespace lathe::tok
