#include "core/chat/operators.h"

#include <cmath>
#include <cstdio>

#include "core/chat/builtins.h"

namespace lathe::chat {
namespace {

bool is_int(const Value& v) { return v.type == Value::Type::Int || v.type == Value::Type::Bool; }
int64_t int_of(const Value& v) { return v.type == Value::Type::Bool ? v.b : v.i; }

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
    throw EvalError{"unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'"};
}

Value repeat(const Value& seq, int64_t n) {
    if (seq.is_string()) {
        std::string out;
        for (int64_t k = 0; k < n; ++k) out += seq.s;
        return Value::string(out);
    }
    List items;
    for (int64_t k = 0; k < n; ++k) items.insert(items.end(), seq.list->begin(), seq.list->end());
    return seq.type == Value::Type::Tuple ? Value::make_tuple(std::move(items)) : Value::make_list(std::move(items));
}

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b) {
    if (op == "~") return Value::string(to_str(a) + to_str(b));
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    bool numbers = a.is_number() && b.is_number();
    bool ints = numbers && is_int(a) && is_int(b);
    if (op == "+") {
        if (ints) return Value::integer(int_of(a) + int_of(b));
        if (numbers) return Value::floating(a.as_double() + b.as_double());
        if (a.is_string() && b.is_string()) return Value::string(a.s + b.s);
        if (a.type == Value::Type::List && b.type == Value::Type::List) {
            List items = *a.list;
            items.insert(items.end(), b.list->begin(), b.list->end());
            return Value::make_list(std::move(items));
        }
        if (a.type == Value::Type::Tuple && b.type == Value::Type::Tuple) {
            List items = *a.list;
            items.insert(items.end(), b.list->begin(), b.list->end());
            return Value::make_tuple(std::move(items));
        }
        if (a.is_string() || a.is_sequence_like())
            throw EvalError{"can only concatenate " + type_name(a) + " (not \"" + type_name(b) + "\") to " + type_name(a)};
        unsupported("+", a, b);
    }
    if (op == "-") {
        if (ints) return Value::integer(int_of(a) - int_of(b));
        if (numbers) return Value::floating(a.as_double() - b.as_double());
        unsupported("-", a, b);
    }
    if (op == "*") {
        if (ints) return Value::integer(int_of(a) * int_of(b));
        if (numbers) return Value::floating(a.as_double() * b.as_double());
        if ((a.is_string() || a.is_sequence_like()) && is_int(b)) return repeat(a, int_of(b));
        if ((b.is_string() || b.is_sequence_like()) && is_int(a)) return repeat(b, int_of(a));
        throw EvalError{"can't multiply sequence by non-int of type '" + type_name(b) + "'"};
    }
    if (op == "/") {
        if (!numbers) unsupported("/", a, b);
        if (b.as_double() == 0) throw EvalError{"division by zero"};
        return Value::floating(a.as_double() / b.as_double());
    }
    if (op == "//") {
        if (!numbers) unsupported("//", a, b);
        if (b.as_double() == 0) throw EvalError{"integer division or modulo by zero"};
        if (ints) return Value::integer(floor_div(int_of(a), int_of(b)));
        return Value::floating(std::floor(a.as_double() / b.as_double()));
    }
    if (op == "%") {
        if (a.is_string()) return Value::string(percent_format(a.s, b));
        if (!numbers) unsupported("%", a, b);
        if (b.as_double() == 0) throw EvalError{"integer division or modulo by zero"};
        if (ints) {
            int64_t x = int_of(a), y = int_of(b);
            return Value::integer(x - floor_div(x, y) * y);
        }
        double x = a.as_double(), y = b.as_double();
        double m = std::fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value::floating(m);
    }
    if (op == "**") {
        if (ints && int_of(b) >= 0) {
            int64_t r = 1, base = int_of(a);
            for (int64_t k = 0; k < int_of(b); ++k) r *= base;
            return Value::integer(r);
        }
        if (numbers) return Value::floating(std::pow(a.as_double(), b.as_double()));
        unsupported("** or pow()", a, b);
    }
    throw EvalError{"unknown operator " + op};
}

Value unary_op(const std::string& op, const Value& a) {
    if (op == "not") return Value::boolean(!truthy(a));
    if (a.is_undefined()) fail_undefined(a);
    if (!a.is_number()) throw EvalError{"bad operand type for unary " + op + ": '" + type_name(a) + "'"};
    if (op == "-") return a.type == Value::Type::Float ? Value::floating(-a.f) : Value::integer(-int_of(a));
    return a.type == Value::Type::Float ? a : Value::integer(int_of(a));
}

std::string percent_format(const std::string& fmt, const Value& args) {
    List values = args.type == Value::Type::Tuple ? *args.list : List{args};
    size_t next = 0;
    std::string out;
    for (size_t k = 0; k < fmt.size(); ++k) {
        if (fmt[k] != '%') {
            out += fmt[k];
            continue;
        }
        ++k;
        // "%(name)s" takes its value from a dict argument.
        const Value* keyed = nullptr;
        if (k < fmt.size() && fmt[k] == '(') {
            size_t close = fmt.find(')', k);
            if (close == std::string::npos) throw EvalError{"incomplete format key"};
            if (args.type != Value::Type::Dict) throw EvalError{"format requires a mapping"};
            keyed = args.dict->find(fmt.substr(k + 1, close - k - 1));
            if (!keyed) throw EvalError{"KeyError: '" + fmt.substr(k + 1, close - k - 1) + "'"};
            k = close + 1;
        }
        size_t spec_start = k;  // flags, width and precision follow
        while (k < fmt.size() && std::string("-+ #0123456789.").find(fmt[k]) != std::string::npos) ++k;
        if (k >= fmt.size()) throw EvalError{"incomplete format"};
        char conv = fmt[k];
        if (conv == '%') {
            out += '%';
            continue;
        }
        if (!keyed && next >= values.size()) throw EvalError{"not enough arguments for format string"};
        const Value& v = keyed ? *keyed : values[next++];
        std::string flags = "%" + fmt.substr(spec_start, k - spec_start);
        char buf[512];
        if (conv == 's' || conv == 'r') {
            std::string s = conv == 's' ? to_str(v) : to_repr(v);
            std::snprintf(buf, sizeof buf, (flags + "s").c_str(), s.c_str());
            out += s.size() >= sizeof buf - 1 ? s : std::string(buf);
        } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
            if (!v.is_number()) throw EvalError{"%" + std::string(1, conv) + " format: a real number is required, not " + type_name(v)};
            long long n = v.type == Value::Type::Float ? static_cast<long long>(v.f) : int_of(v);
            std::snprintf(buf, sizeof buf, (flags + "ll" + std::string(1, conv == 'i' ? 'd' : conv)).c_str(), n);
            out += buf;
        } else if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'E' || conv == 'g' || conv == 'G') {
            if (!v.is_number()) throw EvalError{"must be real number, not " + type_name(v)};
            std::snprintf(buf, sizeof buf, (flags + std::string(1, conv)).c_str(), v.as_double());
            out += buf;
        } else {
            throw EvalError{"unsupported format character '" + std::string(1, conv) + "'"};
        }
    }
    if (next < values.size() && args.type != Value::Type::Dict) throw EvalError{"not all arguments converted during string formatting"};
    return out;
}

}  // namespace lathe::chat
