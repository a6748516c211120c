// The runtime value of the template language: Python's object model cut down to what Jinja templates
// see (None, bool, int, float, str, list, tuple, dict, namespace, callables) plus jinja2's Undefined.
// Lists, dicts and namespaces are shared by reference like Python objects, so a namespace attribute
// set through one name is seen through every other.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace lathe::chat {

struct Value;
using List = std::vector<Value>;

// Insertion-ordered like a Python dict. Keys are Values because template dict literals may use
// numbers ({0: 0, 512: 128}); keys that Python holds equal (1, 1.0, True) are the same key.
// Linear lookup: template dicts are small.
struct Dict {
    std::vector<std::pair<Value, Value>> items;
    const Value* find(const Value& key) const;
    const Value* find(const std::string& key) const;
    // Throws EvalError for an unhashable key (list, dict), as Python does.
    void set(Value key, Value value);
    void set(const std::string& key, Value value);
};

// Arguments of a call as written: positional, then keyword in source order.
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
    // Keyword argument `name`, or positional `index`, or nullptr.
    const Value* get(size_t index, const std::string& name) const;
};

struct Callable {
    std::string name;
    std::function<Value(const CallArgs&)> call;
};

struct Value {
    enum class Type { Undefined, None, Bool, Int, Float, String, List, Tuple, Dict, Namespace, Callable };

    Type type = Type::Undefined;
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;                     // String; for Undefined, the name that was missing (errors)
    std::shared_ptr<List> list;        // List and Tuple
    std::shared_ptr<Dict> dict;        // Dict and Namespace
    std::shared_ptr<Callable> fn;      // Callable

    static Value undefined(std::string name = {});
    static Value none();
    static Value boolean(bool v);
    static Value integer(int64_t v);
    static Value floating(double v);
    static Value string(std::string v);
    static Value make_list(List items = {});
    static Value make_tuple(List items = {});
    static Value make_dict(Dict d = {});
    static Value make_namespace(Dict d = {});
    static Value function(std::string name, std::function<Value(const CallArgs&)> call);
    static Value from_json(const nlohmann::ordered_json& j);

    bool is_undefined() const { return type == Type::Undefined; }
    bool is_none() const { return type == Type::None; }
    bool is_string() const { return type == Type::String; }
    bool is_number() const { return type == Type::Int || type == Type::Float || type == Type::Bool; }
    bool is_sequence_like() const { return type == Type::List || type == Type::Tuple; }
    bool is_mapping() const { return type == Type::Dict; }
    double as_double() const;  // numbers (bool counts as int, as in Python)
};

// Python's name for the value's type, for TypeError messages ("str", "dict", "NoneType").
std::string type_name(const Value& v);
// Python truthiness (jinja2 Undefined is false).
bool truthy(const Value& v);
// str(v) as Jinja prints it: Undefined prints nothing, None prints "None", containers their repr.
std::string to_str(const Value& v);
// repr(v): strings quoted the way Python picks quotes.
std::string to_repr(const Value& v);
// Python's repr of a float: shortest round-trip digits, "2.0", "1e-05", "inf".
std::string float_repr(double d);
// Python ==.
bool equals(const Value& a, const Value& b);
// Python <; throws EvalError (Python's TypeError) for unorderable types.
bool less_than(const Value& a, const Value& b);
// The items `for` walks: list/tuple items, dict keys, string characters; Undefined yields nothing.
List iterate(const Value& v);

// Raised for Python TypeError/ValueError-like failures; the renderer adds the template and line.
struct EvalError {
    std::string message;
};

}  // namespace lathe::chat
