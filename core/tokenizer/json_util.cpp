#include "core/tokenizer/json_util.h"

#include "core/util/error.h"

namespace lathe::tok {

void fail(const std::string& where, const std::string& what) { throw Error(where.empty() ? what : where + ": " + what); }

const json* member(const json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
}

const json& required(const json& j, const char* key, const std::string& where) {
    const json* v = member(j, key);
    if (!v) fail(where, std::string("missing '") + key + "'");
    return *v;
}

const json& required_object(const json& j, const std::string& where) {
    if (!j.is_object()) fail(where, "expected an object, got " + std::string(j.type_name()));
    return j;
}

std::string get_string(const json& j, const char* key, const std::string& where) {
    const json& v = required(j, key, where);
    if (!v.is_string()) fail(child(where, key), "expected a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
}

std::string get_string_or(const json& j, const char* key, const std::string& where, const std::string& def) {
    return member(j, key) ? get_string(j, key, where) : def;
}

bool get_bool_or(const json& j, const char* key, const std::string& where, bool def) {
    const json* v = member(j, key);
    if (!v) return def;
    if (!v->is_boolean()) fail(child(where, key), "expected true or false, got " + std::string(v->type_name()));
    return v->get<bool>();
}

int64_t get_int_or(const json& j, const char* key, const std::string& where, int64_t def) {
    const json* v = member(j, key);
    if (!v) return def;
    if (!v->is_number_integer()) fail(child(where, key), "expected an integer, got " + std::string(v->type_name()));
    return v->get<int64_t>();
}

double get_number_or(const json& j, const char* key, const std::string& where, double def) {
    const json* v = member(j, key);
    if (!v) return def;
    if (!v->is_number()) fail(child(where, key), "expected a number, got " + std::string(v->type_name()));
    return v->get<double>();
}

std::string get_type(const json& j, const std::string& where) {
    required_object(j, where);
    return get_string(j, "type", where);
}

std::string child(const std::string& where, const char* key) { return where.empty() ? key : where + "." + key; }

std::string child(const std::string& where, const char* key, size_t index) {
    return child(where, key) + "[" + std::to_string(index) + "]";
}

}  // namespace lathe::tok
