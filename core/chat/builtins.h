// The named things a template can use besides variables: filters (`x | trim`), tests
// (`x is defined`), methods of str/dict/list (`s.split(',')`), and transformers' tojson.
#pragma once

#include <string>

#include "core/chat/value.h"

namespace lathe::chat {

bool has_filter(const std::string& name);
// Throws EvalError (Python's TypeError/ValueError) or UndefinedFailure.
Value apply_filter(const std::string& name, const Value& input, const CallArgs& args);

bool has_test(const std::string& name);
bool apply_test(const std::string& name, const Value& input, const CallArgs& args);

// `obj.name` when it names a method of a str, dict or list: a callable bound to obj. A method
// the sandbox refuses (list.append, dict.update, ...) gives an Undefined carrying that message;
// anything else a plain Undefined (empty message).
Value bound_method(const Value& obj, const std::string& name);

struct JsonOptions {
    bool ensure_ascii = false;
    int indent = -1;  // -1: None (one line)
    bool indent_is_string = false;
    std::string indent_string;
    std::string item_separator = ", ";
    std::string key_separator = ": ";
    bool sort_keys = false;
};
// Python's json.dumps with the given options; throws EvalError for values JSON cannot hold.
std::string json_dumps(const Value& v, const JsonOptions& options);

// `item in container` (Python's `in`), also the `in` test.
bool value_contains(const Value& container, const Value& item);

// obj.name: jinja2 tries the attribute (a method, a namespace attribute), then the item.
// Undefined when neither exists; fails on an Undefined obj.
Value get_attribute(const Value& obj, const std::string& name);
// obj[key]: the item first, then (for a string key) the attribute; out of range is Undefined.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] for str, list and tuple, with Python's clamping; null parts are omitted.
Value get_slice(const Value& obj, const Value* start, const Value* stop, const Value* step);

// The error jinja2 raises when an Undefined is used for more than printing or testing.
struct UndefinedFailure {
    std::string message;
};
[[noreturn]] void fail_undefined(const Value& undefined);

}  // namespace lathe::chat
