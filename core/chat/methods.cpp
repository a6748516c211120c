// Methods templates call on values: Python's str, dict and list methods (the read-only ones: the
// ImmutableSandboxedEnvironment transformers uses refuses list.append, dict.update and friends).
#include <algorithm>

#include "core/chat/builtins.h"
#include "core/chat/utf8.h"

namespace lathe::chat {
namespace {

const std::string& str_arg(const CallArgs& a, size_t index, const char* name, const char* method) {
    const Value* v = a.get(index, name);
    if (!v || !v->is_string())
        throw EvalError{std::string(method) + "() argument must be str, not " + (v ? type_name(*v) : "nothing")};
    return v->s;
}

const std::string* opt_str(const CallArgs& a, size_t index, const char* name, const char* method) {
    const Value* v = a.get(index, name);
    if (!v || v->is_none()) return nullptr;
    return &str_arg(a, index, name, method);
}

int64_t opt_int(const CallArgs& a, size_t index, const char* name, int64_t fallback) {
    const Value* v = a.get(index, name);
    if (!v || v->is_none()) return fallback;
    if (v->type == Value::Type::Int) return v->i;
    if (v->type == Value::Type::Bool) return v->b;
    throw EvalError{"'" + type_name(*v) + "' object cannot be interpreted as an integer"};
}

List split(const std::string& s, const std::string* sep, int64_t maxsplit) {
    List out;
    if (sep) {
        if (sep->empty()) throw EvalError{"empty separator"};
        size_t start = 0;
        while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
            size_t p = s.find(*sep, start);
            if (p == std::string::npos) break;
            out.push_back(Value::string(s.substr(start, p - start)));
            start = p + sep->size();
        }
        out.push_back(Value::string(s.substr(start)));
        return out;
    }
    // No separator: runs of whitespace split, leading/trailing whitespace ignored.
    size_t pos = 0;
    auto at_space = [&](size_t p, size_t* len) { return utf8::is_space(utf8::decode(s, p, len)); };
    while (pos < s.size()) {
        size_t len = 0;
        while (pos < s.size() && at_space(pos, &len)) pos += len;
        if (pos >= s.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
            out.push_back(Value::string(s.substr(pos)));
            return out;
        }
        size_t start = pos;
        while (pos < s.size() && !at_space(pos, &len)) pos += len;
        out.push_back(Value::string(s.substr(start, pos - start)));
    }
    return out;
}

List rsplit(const std::string& s, const std::string* sep, int64_t maxsplit) {
    if (!sep || maxsplit < 0) return split(s, sep, maxsplit);
    if (sep->empty()) throw EvalError{"empty separator"};
    List out;
    size_t end = s.size();
    while (static_cast<int64_t>(out.size()) < maxsplit) {
        if (end < sep->size()) break;
        size_t p = s.rfind(*sep, end - sep->size());
        if (p == std::string::npos) break;
        out.insert(out.begin(), Value::string(s.substr(p + sep->size(), end - p - sep->size())));
        end = p;
    }
    out.insert(out.begin(), Value::string(s.substr(0, end)));
    return out;
}

bool affix(const std::string& s, const Value& what, bool prefix) {
    auto one = [&](const Value& v) {
        if (!v.is_string()) throw EvalError{"startswith first arg must be str or a tuple of str, not " + type_name(v)};
        if (v.s.size() > s.size()) return false;
        return prefix ? s.compare(0, v.s.size(), v.s) == 0 : s.compare(s.size() - v.s.size(), v.s.size(), v.s) == 0;
    };
    if (what.type == Value::Type::Tuple) {
        for (const Value& v : *what.list)
            if (one(v)) return true;
        return false;
    }
    return one(what);
}

std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
    std::string out;
    if (from.empty()) {
        // Python inserts `to` between every character (and at both ends).
        auto chars = utf8::split_chars(s);
        int64_t n = 0;
        for (const auto& c : chars) {
            if (count < 0 || n < count) {
                out += to;
                ++n;
            }
            out += c;
        }
        if (count < 0 || n < count) out += to;
        return out;
    }
    size_t start = 0;
    int64_t n = 0;
    while (count < 0 || n < count) {
        size_t p = s.find(from, start);
        if (p == std::string::npos) break;
        out.append(s, start, p - start);
        out += to;
        start = p + from.size();
        ++n;
    }
    out.append(s, start, std::string::npos);
    return out;
}

std::string title(const std::string& s) {
    // Python's str.title: a letter after a non-letter starts a word.
    std::string out;
    bool prev_cased = false;
    for (size_t pos = 0; pos < s.size();) {
        size_t len = 0;
        uint32_t cp = utf8::decode(s, pos, &len);
        bool cased = utf8::is_upper_cp(cp) || utf8::is_lower_cp(cp);
        utf8::append(out, prev_cased ? utf8::lower_cp(cp) : utf8::upper_cp(cp));
        prev_cased = cased;
        pos += len;
    }
    return out;
}

std::string capitalize(const std::string& s) {
    if (s.empty()) return s;
    size_t len = 0;
    uint32_t cp = utf8::decode(s, 0, &len);
    std::string out;
    utf8::append(out, utf8::upper_cp(cp));
    return out + utf8::lower(s.substr(len));
}

// str.format with "{}", "{0}" and "{name}" fields (no format specs beyond an ignored ":...").
std::string str_format(const std::string& fmt, const CallArgs& a) {
    std::string out;
    size_t auto_index = 0;
    for (size_t k = 0; k < fmt.size(); ++k) {
        char c = fmt[k];
        if ((c == '{' || c == '}') && k + 1 < fmt.size() && fmt[k + 1] == c) {
            out += c;
            ++k;
            continue;
        }
        if (c != '{') {
            out += c;
            continue;
        }
        size_t close = fmt.find('}', k);
        if (close == std::string::npos) throw EvalError{"Single '{' encountered in format string"};
        std::string field = fmt.substr(k + 1, close - k - 1);
        size_t colon = field.find(':');
        if (colon != std::string::npos) field.resize(colon);
        const Value* v = nullptr;
        if (field.empty()) {
            v = auto_index < a.positional.size() ? &a.positional[auto_index] : nullptr;
            ++auto_index;
        } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
            size_t idx = std::stoul(field);
            v = idx < a.positional.size() ? &a.positional[idx] : nullptr;
        } else {
            for (const auto& [key, val] : a.keyword)
                if (key == field) v = &val;
        }
        if (!v) throw EvalError{"Replacement index " + field + " out of range for positional args tuple"};
        out += to_str(*v);
        k = close;
    }
    return out;
}

Value string_method(const std::string& s, const std::string& name, const CallArgs& a) {
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        const std::string* chars = opt_str(a, 0, "chars", name.c_str());
        return Value::string(utf8::strip(s, chars, name != "rstrip", name != "lstrip"));
    }
    if (name == "split" || name == "rsplit") {
        const std::string* sep = opt_str(a, 0, "sep", name.c_str());
        int64_t maxsplit = opt_int(a, 1, "maxsplit", -1);
        return Value::make_list(name == "split" ? split(s, sep, maxsplit) : rsplit(s, sep, maxsplit));
    }
    if (name == "splitlines") {
        List out;
        size_t start = 0;
        for (size_t p = 0; p < s.size(); ++p) {
            if (s[p] == '\n' || s[p] == '\r') {
                out.push_back(Value::string(s.substr(start, p - start)));
                if (s[p] == '\r' && p + 1 < s.size() && s[p + 1] == '\n') ++p;
                start = p + 1;
            }
        }
        if (start < s.size()) out.push_back(Value::string(s.substr(start)));
        return Value::make_list(std::move(out));
    }
    if (name == "startswith" || name == "endswith") {
        const Value* what = a.get(0, "prefix");
        if (!what) throw EvalError{name + "() takes at least 1 argument (0 given)"};
        return Value::boolean(affix(s, *what, name == "startswith"));
    }
    if (name == "replace") {
        return Value::string(replace(s, str_arg(a, 0, "old", "replace"), str_arg(a, 1, "new", "replace"), opt_int(a, 2, "count", -1)));
    }
    if (name == "lower") return Value::string(utf8::lower(s));
    if (name == "upper") return Value::string(utf8::upper(s));
    if (name == "title") return Value::string(title(s));
    if (name == "capitalize") return Value::string(capitalize(s));
    if (name == "find" || name == "index" || name == "rfind" || name == "count") {
        const std::string& sub = str_arg(a, 0, "sub", name.c_str());
        if (name == "count") {
            if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8::length(s)) + 1);
            int64_t n = 0;
            for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
            return Value::integer(n);
        }
        size_t p = name == "rfind" ? s.rfind(sub) : s.find(sub);
        if (p == std::string::npos) {
            if (name == "index") throw EvalError{"substring not found"};
            return Value::integer(-1);
        }
        return Value::integer(static_cast<int64_t>(utf8::length(s.substr(0, p))));
    }
    if (name == "join") {
        const Value* items = a.get(0, "iterable");
        if (!items) throw EvalError{"join() takes exactly one argument (0 given)"};
        std::string out;
        bool first = true;
        for (const Value& v : iterate(*items)) {
            if (!v.is_string()) throw EvalError{"sequence item: expected str instance, " + type_name(v) + " found"};
            if (!first) out += s;
            first = false;
            out += v.s;
        }
        return Value::string(out);
    }
    if (name == "format") return Value::string(str_format(s, a));
    if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "isupper" || name == "islower") {
        if (s.empty()) return Value::boolean(false);
        bool any_cased = false;
        for (size_t pos = 0; pos < s.size();) {
            size_t len = 0;
            uint32_t cp = utf8::decode(s, pos, &len);
            pos += len;
            bool digit = cp >= '0' && cp <= '9';
            bool alpha = utf8::is_upper_cp(cp) || utf8::is_lower_cp(cp);
            if (name == "isdigit" && !digit) return Value::boolean(false);
            if (name == "isalpha" && !alpha) return Value::boolean(false);
            if (name == "isalnum" && !alpha && !digit) return Value::boolean(false);
            if (name == "isspace" && !utf8::is_space(cp)) return Value::boolean(false);
            if (name == "isupper" && utf8::is_lower_cp(cp)) return Value::boolean(false);
            if (name == "islower" && utf8::is_upper_cp(cp)) return Value::boolean(false);
            any_cased = any_cased || alpha;
        }
        return Value::boolean((name != "isupper" && name != "islower") || any_cased);
    }
    throw EvalError{"'str' object has no attribute '" + name + "'"};
}

Value dict_method(const Value& d, const std::string& name, const CallArgs& a) {
    if (name == "copy") return Value::make_dict(*d.dict);
    if (name == "items" || name == "keys" || name == "values") {
        List out;
        for (const auto& [k, v] : d.dict->items) {
            if (name == "items") {
                out.push_back(Value::make_tuple({k, v}));
            } else {
                out.push_back(name == "keys" ? k : v);
            }
        }
        return Value::make_list(std::move(out));
    }
    if (name == "get") {
        const Value* key = a.get(0, "key");
        const Value* fallback = a.get(1, "default");
        if (key)
            if (const Value* v = d.dict->find(*key)) return *v;
        return fallback ? *fallback : Value::none();
    }
    throw EvalError{"'dict' object has no attribute '" + name + "'"};
}

Value list_method(const Value& l, const std::string& name, const CallArgs& a) {
    if (name == "copy") return Value::make_list(*l.list);
    const Value* x = a.get(0, "value");
    if (!x) throw EvalError{name + "() takes exactly one argument (0 given)"};
    if (name == "count") {
        int64_t n = 0;
        for (const Value& v : *l.list) n += equals(v, *x);
        return Value::integer(n);
    }
    if (name == "index") {
        for (size_t k = 0; k < l.list->size(); ++k)
            if (equals((*l.list)[k], *x)) return Value::integer(static_cast<int64_t>(k));
        throw EvalError{to_repr(*x) + " is not in list"};
    }
    throw EvalError{"'" + type_name(l) + "' object has no attribute '" + name + "'"};
}

bool is_string_method(const std::string& n) {
    static const char* names[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
                                  "replace", "lower", "upper", "title", "capitalize", "find", "rfind", "index", "count",
                                  "join", "format", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower"};
    return std::find(std::begin(names), std::end(names), n) != std::end(names);
}

}  // namespace

Value bound_method(const Value& obj, const std::string& name) {
    if (obj.is_string() && is_string_method(name)) {
        std::string s = obj.s;
        return Value::function("str." + name, [s, name](const CallArgs& a) { return string_method(s, name, a); });
    }
    // The methods that modify a dict or list exist but the ImmutableSandboxedEnvironment refuses
    // them: an Undefined that fails when used (so `{% set _ = l.append(x) %}` is an error).
    auto unsafe = [&] {
        return Value::undefined("access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.");
    };
    if (obj.type == Value::Type::Dict) {
        static const char* names[] = {"items", "keys", "values", "get", "copy"};
        static const char* mutating[] = {"pop", "update", "setdefault", "clear", "popitem"};
        if (std::find(std::begin(names), std::end(names), name) != std::end(names))
            return Value::function("dict." + name, [obj, name](const CallArgs& a) { return dict_method(obj, name, a); });
        if (std::find(std::begin(mutating), std::end(mutating), name) != std::end(mutating)) return unsafe();
    }
    if (obj.is_sequence_like()) {
        static const char* names[] = {"count", "index", "copy"};
        static const char* mutating[] = {"append", "extend", "pop", "insert", "remove", "sort", "reverse", "clear"};
        if (std::find(std::begin(names), std::end(names), name) != std::end(names))
            return Value::function("list." + name, [obj, name](const CallArgs& a) { return list_method(obj, name, a); });
        if (obj.type == Value::Type::List && std::find(std::begin(mutating), std::end(mutating), name) != std::end(mutating))
            return unsafe();
    }
    return Value::undefined();
}

}  // namespace lathe::chat
