// Jinja "tests", the predicates of `x is defined` and `x is divisibleby 3`, with jinja2's
// definitions: bool counts as a number, a dict is a sequence, Undefined is iterable.
#include <algorithm>
#include <cmath>

#include "core/chat/builtins.h"
#include "core/chat/utf8.h"

namespace lathe::chat {
namespace {

const Value& arg(const CallArgs& a, const std::string& test) {
    const Value* v = a.get(0, "other");
    if (!v) throw EvalError{"test '" + test + "' needs an argument"};
    return *v;
}

// Python's `value % divisor` for the odd/even/divisibleby tests (floats allowed, as in Python).
double py_mod(const Value& v, const Value& divisor) {
    if (!v.is_number() || !divisor.is_number())
        throw EvalError{"unsupported operand type(s) for %: '" + type_name(v) + "' and '" + type_name(divisor) + "'"};
    double d = divisor.as_double();
    if (d == 0) throw EvalError{"integer division or modulo by zero"};
    double m = std::fmod(v.as_double(), d);
    if (m != 0 && ((m < 0) != (d < 0))) m += d;
    return m;
}

bool contains(const Value& container, const Value& item);

const char* kTests[] = {"defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true",
                        "false", "mapping", "sequence", "iterable", "callable", "equalto", "eq", "==", "ne", "!=",
                        "lt", "<", "le", "<=", "gt", ">", "ge", ">=", "lessthan", "greaterthan", "in", "odd", "even",
                        "divisibleby", "lower", "upper", "sameas", "escaped", "filter", "test"};

}  // namespace

bool has_test(const std::string& name) { return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests); }

bool apply_test(const std::string& name, const Value& v, const CallArgs& a) {
    using T = Value::Type;
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_string();
    if (name == "number") return v.type == T::Int || v.type == T::Float || v.type == T::Bool;
    if (name == "integer") return v.type == T::Int;
    if (name == "float") return v.type == T::Float;
    if (name == "boolean") return v.type == T::Bool;
    if (name == "true") return v.type == T::Bool && v.b;
    if (name == "false") return v.type == T::Bool && !v.b;
    if (name == "mapping") return v.type == T::Dict;
    if (name == "sequence") return v.type == T::String || v.is_sequence_like() || v.type == T::Dict || v.is_undefined();
    if (name == "iterable") return v.type == T::String || v.is_sequence_like() || v.type == T::Dict || v.is_undefined();
    if (name == "callable") return v.type == T::Callable;
    if (name == "equalto" || name == "eq" || name == "==") return equals(v, arg(a, name));
    if (name == "ne" || name == "!=") return !equals(v, arg(a, name));
    if (name == "lt" || name == "<" || name == "lessthan") return less_than(v, arg(a, name));
    if (name == "gt" || name == ">" || name == "greaterthan") return less_than(arg(a, name), v);
    if (name == "le" || name == "<=") return !less_than(arg(a, name), v);
    if (name == "ge" || name == ">=") return !less_than(v, arg(a, name));
    if (name == "in") return contains(arg(a, name), v);
    if (name == "odd") return py_mod(v, Value::integer(2)) == 1;
    if (name == "even") return py_mod(v, Value::integer(2)) == 0;
    if (name == "divisibleby") return py_mod(v, arg(a, name)) == 0;
    if (name == "lower") return v.is_string() && utf8::lower(v.s) == v.s;
    if (name == "upper") return v.is_string() && utf8::upper(v.s) == v.s;
    if (name == "sameas") {
        const Value& o = arg(a, name);
        if (v.type != o.type) return false;
        if (v.list || v.dict || v.fn) return v.list == o.list && v.dict == o.dict && v.fn == o.fn;
        return equals(v, o);
    }
    if (name == "escaped") return false;
    if (name == "filter") return v.is_string() && has_filter(v.s);
    if (name == "test") return v.is_string() && has_test(v.s);
    throw EvalError{"No test named '" + name + "'."};
}

namespace {
bool contains(const Value& container, const Value& item) {
    switch (container.type) {
        case Value::Type::String:
            if (!item.is_string())
                throw EvalError{"'in <string>' requires string as left operand, not " + type_name(item)};
            return container.s.find(item.s) != std::string::npos;
        case Value::Type::List:
        case Value::Type::Tuple:
            for (const Value& v : *container.list)
                if (equals(v, item)) return true;
            return false;
        case Value::Type::Dict:
        case Value::Type::Namespace: return container.dict->find(item) != nullptr;
        case Value::Type::Undefined: return false;
        default: throw EvalError{"argument of type '" + type_name(container) + "' is not iterable"};
    }
}
}  // namespace

// Shared with the `in` operator.
bool value_contains(const Value& container, const Value& item) { return contains(container, item); }

}  // namespace lathe::chat
