#include "core/chat/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/chat/utf8.h"

namespace lathe::chat {

const Value* Dict::find(const Value& key) const {
    for (const auto& [k, v] : items)
        if (equals(k, key)) return &v;
    return nullptr;
}

const Value* Dict::find(const std::string& key) const {
    for (const auto& [k, v] : items)
        if (k.is_string() && k.s == key) return &v;
    return nullptr;
}

void Dict::set(Value key, Value value) {
    if (key.is_sequence_like() && key.type == Value::Type::List) throw EvalError{"unhashable type: 'list'"};
    if (key.type == Value::Type::Dict) throw EvalError{"unhashable type: 'dict'"};
    for (auto& [k, v] : items) {
        if (equals(k, key)) {
            v = std::move(value);
            return;
        }
    }
    items.emplace_back(std::move(key), std::move(value));
}

void Dict::set(const std::string& key, Value value) { set(Value::string(key), std::move(value)); }

const Value* CallArgs::get(size_t index, const std::string& name) const {
    for (const auto& [k, v] : keyword)
        if (k == name) return &v;
    return index < positional.size() ? &positional[index] : nullptr;
}

Value Value::undefined(std::string name) {
    Value v;
    v.s = std::move(name);
    return v;
}
Value Value::none() {
    Value v;
    v.type = Type::None;
    return v;
}
Value Value::boolean(bool b) {
    Value v;
    v.type = Type::Bool;
    v.b = b;
    return v;
}
Value Value::integer(int64_t i) {
    Value v;
    v.type = Type::Int;
    v.i = i;
    return v;
}
Value Value::floating(double f) {
    Value v;
    v.type = Type::Float;
    v.f = f;
    return v;
}
Value Value::string(std::string s) {
    Value v;
    v.type = Type::String;
    v.s = std::move(s);
    return v;
}
Value Value::make_list(List items) {
    Value v;
    v.type = Type::List;
    v.list = std::make_shared<List>(std::move(items));
    return v;
}
Value Value::make_tuple(List items) {
    Value v = make_list(std::move(items));
    v.type = Type::Tuple;
    return v;
}
Value Value::make_dict(Dict d) {
    Value v;
    v.type = Type::Dict;
    v.dict = std::make_shared<Dict>(std::move(d));
    return v;
}
Value Value::make_namespace(Dict d) {
    Value v = make_dict(std::move(d));
    v.type = Type::Namespace;
    return v;
}
Value Value::function(std::string name, std::function<Value(const CallArgs&)> call) {
    Value v;
    v.type = Type::Callable;
    v.fn = std::make_shared<Callable>(Callable{std::move(name), std::move(call)});
    return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null: return none();
        case nlohmann::ordered_json::value_t::boolean: return boolean(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return integer(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            // Beyond int64 (Python would keep the exact int): the nearest double is closer than wrapping.
            uint64_t u = j.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return floating(static_cast<double>(u));
            return integer(static_cast<int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float: return floating(j.get<double>());
        case nlohmann::ordered_json::value_t::string: return string(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            List items;
            for (const auto& e : j) items.push_back(from_json(e));
            return make_list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            Dict d;
            for (const auto& [k, e] : j.items()) d.items.emplace_back(string(k), from_json(e));
            return make_dict(std::move(d));
        }
        default: return undefined();
    }
}

double Value::as_double() const {
    switch (type) {
        case Type::Bool: return b ? 1 : 0;
        case Type::Int: return static_cast<double>(i);
        case Type::Float: return f;
        default: return 0;
    }
}

std::string type_name(const Value& v) {
    switch (v.type) {
        case Value::Type::Undefined: return "Undefined";
        case Value::Type::None: return "NoneType";
        case Value::Type::Bool: return "bool";
        case Value::Type::Int: return "int";
        case Value::Type::Float: return "float";
        case Value::Type::String: return "str";
        case Value::Type::List: return "list";
        case Value::Type::Tuple: return "tuple";
        case Value::Type::Dict: return "dict";
        case Value::Type::Namespace: return "Namespace";
        case Value::Type::Callable: return "function";
    }
    return "object";
}

bool truthy(const Value& v) {
    switch (v.type) {
        case Value::Type::Undefined:
        case Value::Type::None: return false;
        case Value::Type::Bool: return v.b;
        case Value::Type::Int: return v.i != 0;
        case Value::Type::Float: return v.f != 0;
        case Value::Type::String: return !v.s.empty();
        case Value::Type::List:
        case Value::Type::Tuple: return !v.list->empty();
        case Value::Type::Dict: return !v.dict->items.empty();
        case Value::Type::Namespace:
        case Value::Type::Callable: return true;
    }
    return false;
}

std::string float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    // Shortest digits that round-trip, as Python's repr; then Python's layout: positional notation
    // for decimal exponents in [-4, 16), scientific ("1e+16", "1e-05") outside.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool negative = sci[0] == '-';
    if (negative) sci.erase(0, 1);
    size_t epos = sci.find('e');
    std::string mant = sci.substr(0, epos);
    int exp = std::stoi(sci.substr(epos + 1));
    std::string digits;
    for (char c : mant)
        if (c != '.') digits += c;
    std::string out;
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
        } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
            out = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
        } else {
            out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
        }
        return (negative ? "-" : "") + out;
    }
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return (negative ? "-" : "") + out + ebuf;
}

static std::string string_repr(const std::string& s) {
    // Python prefers single quotes; it switches to double quotes when the text has ' but no ".
    bool has_single = s.find('\'') != std::string::npos;
    bool has_double = s.find('"') != std::string::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, quote);
    for (size_t pos = 0; pos < s.size();) {
        size_t len = 0;
        uint32_t cp = utf8::decode(s, pos, &len);
        if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
            out += '\\';
            out += static_cast<char>(cp);
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || (len == 1 && cp >= 0x80)) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", cp & 0xFF);
            out += b;
        } else {
            out.append(s, pos, len);
        }
        pos += len;
    }
    out += quote;
    return out;
}

std::string to_repr(const Value& v) {
    switch (v.type) {
        case Value::Type::String: return string_repr(v.s);
        case Value::Type::Undefined: return "";
        case Value::Type::List:
        case Value::Type::Tuple: {
            bool tuple = v.type == Value::Type::Tuple;
            std::string out = tuple ? "(" : "[";
            for (size_t k = 0; k < v.list->size(); ++k) {
                if (k) out += ", ";
                out += to_repr((*v.list)[k]);
            }
            if (tuple && v.list->size() == 1) out += ",";
            return out + (tuple ? ")" : "]");
        }
        case Value::Type::Dict:
        case Value::Type::Namespace: {
            std::string out = v.type == Value::Type::Namespace ? "<Namespace {" : "{";
            bool first = true;
            for (const auto& [k, e] : v.dict->items) {
                if (!first) out += ", ";
                first = false;
                out += to_repr(k) + ": " + to_repr(e);
            }
            return out + (v.type == Value::Type::Namespace ? "}>" : "}");
        }
        default: return to_str(v);
    }
}

std::string to_str(const Value& v) {
    switch (v.type) {
        case Value::Type::Undefined: return "";
        case Value::Type::None: return "None";
        case Value::Type::Bool: return v.b ? "True" : "False";
        case Value::Type::Int: return std::to_string(v.i);
        case Value::Type::Float: return float_repr(v.f);
        case Value::Type::String: return v.s;
        case Value::Type::Callable: return "<function " + v.fn->name + ">";
        default: return to_repr(v);
    }
}

bool equals(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.type == Value::Type::Float || b.type == Value::Type::Float) return a.as_double() == b.as_double();
        int64_t x = a.type == Value::Type::Bool ? a.b : a.i;
        int64_t y = b.type == Value::Type::Bool ? b.b : b.i;
        return x == y;
    }
    if (a.type != b.type) return false;
    switch (a.type) {
        case Value::Type::Undefined:
        case Value::Type::None: return true;
        case Value::Type::String: return a.s == b.s;
        case Value::Type::List:
        case Value::Type::Tuple: {
            if (a.list->size() != b.list->size()) return false;
            for (size_t k = 0; k < a.list->size(); ++k)
                if (!equals((*a.list)[k], (*b.list)[k])) return false;
            return true;
        }
        case Value::Type::Dict: {
            if (a.dict->items.size() != b.dict->items.size()) return false;
            for (const auto& [k, e] : a.dict->items) {
                const Value* other = b.dict->find(k);
                if (!other || !equals(e, *other)) return false;
            }
            return true;
        }
        case Value::Type::Namespace: return a.dict == b.dict;
        case Value::Type::Callable: return a.fn == b.fn;
        default: return false;
    }
}

bool less_than(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.type == Value::Type::Float || b.type == Value::Type::Float) return a.as_double() < b.as_double();
        int64_t x = a.type == Value::Type::Bool ? a.b : a.i;
        int64_t y = b.type == Value::Type::Bool ? b.b : b.i;
        return x < y;
    }
    // UTF-8 byte order is code point order, which is how Python compares str.
    if (a.is_string() && b.is_string()) return a.s < b.s;
    if (a.type == b.type && a.is_sequence_like()) {
        const List& x = *a.list;
        const List& y = *b.list;
        for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
            if (!equals(x[k], y[k])) return less_than(x[k], y[k]);
        }
        return x.size() < y.size();
    }
    throw EvalError{"'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'"};
}

List iterate(const Value& v) {
    switch (v.type) {
        case Value::Type::Undefined: return {};
        case Value::Type::List:
        case Value::Type::Tuple: return *v.list;
        case Value::Type::Dict: {
            List keys;
            for (const auto& [k, e] : v.dict->items) keys.push_back(k);
            return keys;
        }
        case Value::Type::String: {
            List chars;
            for (auto& c : utf8::split_chars(v.s)) chars.push_back(Value::string(std::move(c)));
            return chars;
        }
        default: throw EvalError{"'" + type_name(v) + "' object is not iterable"};
    }
}

}  // namespace lathe::chat
