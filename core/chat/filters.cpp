// Jinja's built-in filters as jinja2 3.1 defines them, plus transformers' tojson. Each takes the
// piped value and the call's arguments; positional and keyword names follow jinja2's signatures.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>

#include "core/chat/builtins.h"
#include "core/chat/operators.h"
#include "core/chat/utf8.h"

namespace lathe::chat {
namespace {

using FilterFn = std::function<Value(const Value&, const CallArgs&)>;

bool flag(const CallArgs& a, size_t index, const char* name, bool fallback) {
    const Value* v = a.get(index, name);
    return v ? truthy(*v) : fallback;
}

int64_t int_arg(const CallArgs& a, size_t index, const char* name, int64_t fallback) {
    const Value* v = a.get(index, name);
    if (!v || v->is_none()) return fallback;
    if (v->type == Value::Type::Int) return v->i;
    if (v->type == Value::Type::Bool) return v->b;
    if (v->type == Value::Type::Float) return static_cast<int64_t>(v->f);
    throw EvalError{"expected an integer argument '" + std::string(name) + "', got " + type_name(*v)};
}

// Lookup path "a.b.0" the way jinja2's make_attrgetter does (item access, digits as indexes).
Value attr_path(const Value& obj, const std::string& path) {
    Value cur = obj;
    size_t start = 0;
    while (true) {
        size_t dot = path.find('.', start);
        std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        cur = get_item(cur, digits ? Value::integer(std::stoll(part)) : Value::string(part));
        if (dot == std::string::npos) return cur;
        start = dot + 1;
    }
}

// Sort/compare key: lower-cased strings unless case_sensitive (jinja2's ignore_case).
Value sort_key(const Value& v, bool case_sensitive) {
    if (!case_sensitive && v.is_string()) return Value::string(utf8::lower(v.s));
    return v;
}

List to_list(const Value& v) { return iterate(v); }

const std::map<std::string, FilterFn>& table();

Value call_filter(const std::string& name, const Value& v, const CallArgs& a) {
    auto it = table().find(name);
    if (it == table().end()) throw EvalError{"No filter named '" + name + "'."};
    return it->second(v, a);
}

// selectattr/rejectattr/select/reject: a test name and its arguments after `skip` positionals.
List select(const Value& seq, const CallArgs& a, bool by_attr, bool keep) {
    size_t base = by_attr ? 1 : 0;
    std::string attr;
    if (by_attr) {
        if (a.positional.empty() || !a.positional[0].is_string()) throw EvalError{"selectattr needs an attribute name"};
        attr = a.positional[0].s;
    }
    std::string test;
    CallArgs test_args;
    if (a.positional.size() > base) {
        if (!a.positional[base].is_string()) throw EvalError{"test name must be a string"};
        test = a.positional[base].s;
        test_args.positional.assign(a.positional.begin() + static_cast<long>(base) + 1, a.positional.end());
        test_args.keyword = a.keyword;
        if (!has_test(test)) throw EvalError{"No test named '" + test + "'."};
    }
    List out;
    for (const Value& item : to_list(seq)) {
        Value subject = by_attr ? attr_path(item, attr) : item;
        bool ok = test.empty() ? truthy(subject) : apply_test(test, subject, test_args);
        if (ok == keep) out.push_back(item);
    }
    return out;
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

double python_round(double x, int64_t digits) {
    if (digits >= 0 && digits < 300) {
        // Python rounds the exact binary value (round(2.675, 2) == 2.67); glibc's printf does too,
        // ties to even.
        char buf[400];
        std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(digits), x);
        return std::strtod(buf, nullptr);
    }
    double scale = std::pow(10.0, static_cast<double>(-digits));
    return std::nearbyint(x / scale) * scale;
}

Value tojson(const Value& v, const CallArgs& a) {
    JsonOptions o;
    if (const Value* e = a.get(0, "ensure_ascii")) o.ensure_ascii = truthy(*e);
    if (const Value* i = a.get(1, "indent"); i && !i->is_none()) {
        if (i->is_string()) {
            o.indent_is_string = true;
            o.indent_string = i->s;
        } else {
            o.indent = static_cast<int>(std::max<int64_t>(0, i->type == Value::Type::Bool ? i->b : i->i));
        }
        o.item_separator = ",";  // json.dumps drops the space after ',' when indenting
    }
    if (const Value* s = a.get(2, "separators"); s && !s->is_none()) {
        if (!s->is_sequence_like() || s->list->size() != 2) throw EvalError{"separators must be a pair of strings"};
        o.item_separator = to_str((*s->list)[0]);
        o.key_separator = to_str((*s->list)[1]);
    }
    o.sort_keys = flag(a, 3, "sort_keys", false);
    return Value::string(json_dumps(v, o));
}

Value indent(const Value& v, const CallArgs& a) {
    std::string ind = "    ";
    if (const Value* w = a.get(0, "width")) ind = w->is_string() ? w->s : std::string(static_cast<size_t>(std::max<int64_t>(0, int_arg(a, 0, "width", 4))), ' ');
    bool first = flag(a, 1, "first", false);
    bool blank = flag(a, 2, "blank", false);
    if (!v.is_string()) throw EvalError{"unsupported operand type(s) for +=: '" + type_name(v) + "' and 'str'"};
    std::string s = v.s + "\n";
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t p = 0; p < s.size(); ++p) {
        if (s[p] == '\n') {
            lines.push_back(s.substr(start, p - start));
            start = p + 1;
        }
    }
    std::string rv;
    if (blank) {
        for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + ind : "") + lines[k];
    } else {
        rv = lines[0];
        for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? "" : ind) + lines[k];
    }
    return Value::string(first ? ind + rv : rv);
}

Value sort_filter(const Value& v, const CallArgs& a) {
    bool reverse = flag(a, 0, "reverse", false);
    bool cs = flag(a, 1, "case_sensitive", false);
    const Value* attribute = a.get(2, "attribute");
    List items = to_list(v);
    auto key = [&](const Value& x) { return sort_key(attribute && !attribute->is_none() ? attr_path(x, to_str(*attribute)) : x, cs); };
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        return reverse ? less_than(key(y), key(x)) : less_than(key(x), key(y));
    });
    return Value::make_list(std::move(items));
}

Value min_max(const Value& v, const CallArgs& a, bool want_max) {
    bool cs = flag(a, 0, "case_sensitive", false);
    const Value* attribute = a.get(1, "attribute");
    List items = to_list(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    auto key = [&](const Value& x) { return sort_key(attribute && !attribute->is_none() ? attr_path(x, to_str(*attribute)) : x, cs); };
    size_t best = 0;
    for (size_t k = 1; k < items.size(); ++k) {
        bool better = want_max ? less_than(key(items[best]), key(items[k])) : less_than(key(items[k]), key(items[best]));
        if (better) best = k;
    }
    return items[best];
}

Value add(const Value& x, const Value& y) {
    if (x.type == Value::Type::Float || y.type == Value::Type::Float) return Value::floating(x.as_double() + y.as_double());
    return Value::integer(static_cast<int64_t>(x.as_double()) + static_cast<int64_t>(y.as_double()));
}

const std::map<std::string, FilterFn>& table() {
    static const std::map<std::string, FilterFn> filters = [] {
        std::map<std::string, FilterFn> f;
        f["tojson"] = tojson;
        f["trim"] = [](const Value& v, const CallArgs& a) {
            const Value* chars = a.get(0, "chars");
            std::string c = chars && !chars->is_none() ? to_str(*chars) : "";
            return Value::string(utf8::strip(to_str(v), chars && !chars->is_none() ? &c : nullptr, true, true));
        };
        f["length"] = [](const Value& v, const CallArgs&) {
            switch (v.type) {
                case Value::Type::Undefined: return Value::integer(0);
                case Value::Type::String: return Value::integer(static_cast<int64_t>(utf8::length(v.s)));
                case Value::Type::List:
                case Value::Type::Tuple: return Value::integer(static_cast<int64_t>(v.list->size()));
                case Value::Type::Dict: return Value::integer(static_cast<int64_t>(v.dict->items.size()));
                default: throw EvalError{"object of type '" + type_name(v) + "' has no len()"};
            }
        };
        f["count"] = f["length"];
        f["default"] = [](const Value& v, const CallArgs& a) {
            const Value* fallback = a.get(0, "default_value");
            bool boolean = flag(a, 1, "boolean", false);
            if (v.is_undefined() || (boolean && !truthy(v))) return fallback ? *fallback : Value::string("");
            return v;
        };
        f["d"] = f["default"];
        f["list"] = [](const Value& v, const CallArgs&) { return Value::make_list(to_list(v)); };
        f["string"] = [](const Value& v, const CallArgs&) { return Value::string(to_str(v)); };
        // Markup(str(value)): the result is a string whatever went in.
        f["safe"] = [](const Value& v, const CallArgs&) { return Value::string(to_str(v)); };
        f["escape"] = [](const Value& v, const CallArgs&) { return Value::string(html_escape(to_str(v))); };
        f["e"] = f["escape"];
        f["forceescape"] = f["escape"];
        f["upper"] = [](const Value& v, const CallArgs&) { return Value::string(utf8::upper(to_str(v))); };
        f["lower"] = [](const Value& v, const CallArgs&) { return Value::string(utf8::lower(to_str(v))); };
        f["title"] = [](const Value& v, const CallArgs&) { return get_attribute(Value::string(to_str(v)), "title").fn->call({}); };
        f["capitalize"] = [](const Value& v, const CallArgs&) { return get_attribute(Value::string(to_str(v)), "capitalize").fn->call({}); };
        f["replace"] = [](const Value& v, const CallArgs& a) {
            CallArgs m;
            m.positional = {a.get(0, "old") ? *a.get(0, "old") : Value::string(""), a.get(1, "new") ? *a.get(1, "new") : Value::string("")};
            if (const Value* c = a.get(2, "count")) m.positional.push_back(*c);
            m.positional[0] = Value::string(to_str(m.positional[0]));
            m.positional[1] = Value::string(to_str(m.positional[1]));
            return get_attribute(Value::string(to_str(v)), "replace").fn->call(m);
        };
        f["int"] = [](const Value& v, const CallArgs& a) {
            Value fallback = a.get(0, "default") ? *a.get(0, "default") : Value::integer(0);
            int base = static_cast<int>(int_arg(a, 1, "base", 10));
            if (v.type == Value::Type::Int) return v;
            if (v.type == Value::Type::Bool) return Value::integer(v.b);
            if (v.type == Value::Type::Float) return Value::integer(static_cast<int64_t>(v.f));
            if (v.is_string()) {
                std::string s = utf8::strip(v.s, nullptr, true, true);
                try {
                    size_t used = 0;
                    int64_t r = std::stoll(s, &used, base);
                    if (used == s.size()) return Value::integer(r);
                } catch (const std::exception&) {
                }
                try {
                    size_t used = 0;
                    double d = std::stod(s, &used);
                    if (used == s.size()) return Value::integer(static_cast<int64_t>(d));
                } catch (const std::exception&) {
                }
            }
            return fallback;
        };
        f["float"] = [](const Value& v, const CallArgs& a) {
            Value fallback = a.get(0, "default") ? *a.get(0, "default") : Value::floating(0.0);
            if (v.is_number()) return Value::floating(v.as_double());
            if (v.is_string()) {
                std::string s = utf8::strip(v.s, nullptr, true, true);
                try {
                    size_t used = 0;
                    double d = std::stod(s, &used);
                    if (used == s.size()) return Value::floating(d);
                } catch (const std::exception&) {
                }
            }
            return fallback;
        };
        f["abs"] = [](const Value& v, const CallArgs&) {
            if (v.type == Value::Type::Float) return Value::floating(std::fabs(v.f));
            if (v.type == Value::Type::Int || v.type == Value::Type::Bool) return Value::integer(std::llabs(v.type == Value::Type::Int ? v.i : v.b));
            throw EvalError{"bad operand type for abs(): '" + type_name(v) + "'"};
        };
        f["round"] = [](const Value& v, const CallArgs& a) {
            int64_t precision = int_arg(a, 0, "precision", 0);
            std::string method = a.get(1, "method") ? to_str(*a.get(1, "method")) : "common";
            if (!v.is_number()) throw EvalError{"type " + type_name(v) + " doesn't define __round__ method"};
            if (method == "common") {
                if (v.type != Value::Type::Float) return Value::integer(v.type == Value::Type::Int ? v.i : v.b);
                return Value::floating(python_round(v.f, precision));
            }
            double scale = std::pow(10.0, static_cast<double>(precision));
            double x = v.as_double() * scale;
            if (method == "ceil") return Value::floating(std::ceil(x) / scale);
            if (method == "floor") return Value::floating(std::floor(x) / scale);
            throw EvalError{"method must be common, ceil or floor"};
        };
        f["join"] = [](const Value& v, const CallArgs& a) {
            std::string sep = a.get(0, "d") ? to_str(*a.get(0, "d")) : "";
            const Value* attribute = a.get(1, "attribute");
            std::string out;
            bool first = true;
            for (const Value& item : to_list(v)) {
                if (!first) out += sep;
                first = false;
                out += to_str(attribute && !attribute->is_none() ? attr_path(item, to_str(*attribute)) : item);
            }
            return Value::string(out);
        };
        f["first"] = [](const Value& v, const CallArgs&) {
            List items = to_list(v);
            return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
        };
        f["last"] = [](const Value& v, const CallArgs&) {
            List items = to_list(v);
            return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
        };
        f["reverse"] = [](const Value& v, const CallArgs&) {
            if (v.is_string()) {
                auto chars = utf8::split_chars(v.s);
                std::string out;
                for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
                return Value::string(out);
            }
            List items = to_list(v);
            std::reverse(items.begin(), items.end());
            return Value::make_list(std::move(items));
        };
        f["sort"] = sort_filter;
        f["min"] = [](const Value& v, const CallArgs& a) { return min_max(v, a, false); };
        f["max"] = [](const Value& v, const CallArgs& a) { return min_max(v, a, true); };
        f["sum"] = [](const Value& v, const CallArgs& a) {
            const Value* attribute = a.get(0, "attribute");
            Value total = a.get(1, "start") ? *a.get(1, "start") : Value::integer(0);
            for (const Value& item : to_list(v)) {
                Value x = attribute && !attribute->is_none() ? attr_path(item, to_str(*attribute)) : item;
                if (!x.is_number() || !total.is_number()) throw EvalError{"unsupported operand type(s) for +"};
                total = add(total, x);
            }
            return total;
        };
        f["unique"] = [](const Value& v, const CallArgs& a) {
            bool cs = flag(a, 0, "case_sensitive", false);
            const Value* attribute = a.get(1, "attribute");
            List out, seen;
            for (const Value& item : to_list(v)) {
                Value key = sort_key(attribute && !attribute->is_none() ? attr_path(item, to_str(*attribute)) : item, cs);
                bool dup = std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); });
                if (!dup) {
                    seen.push_back(key);
                    out.push_back(item);
                }
            }
            return Value::make_list(std::move(out));
        };
        f["items"] = [](const Value& v, const CallArgs&) {
            if (v.is_undefined()) return Value::make_list();
            if (v.type != Value::Type::Dict) throw EvalError{"Can only get item pairs from a mapping."};
            return get_attribute(v, "items").fn->call({});
        };
        f["dictsort"] = [](const Value& v, const CallArgs& a) {
            bool cs = flag(a, 0, "case_sensitive", false);
            std::string by = a.get(1, "by") ? to_str(*a.get(1, "by")) : "key";
            bool reverse = flag(a, 2, "reverse", false);
            if (v.type != Value::Type::Dict) throw EvalError{"'" + type_name(v) + "' object has no attribute 'items'"};
            size_t pos = by == "key" ? 0 : by == "value" ? 1 : 2;
            if (pos == 2) throw EvalError{"You can only sort by either \"key\" or \"value\""};
            List items = *get_attribute(v, "items").fn->call({}).list;
            std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
                Value kx = sort_key((*x.list)[pos], cs), ky = sort_key((*y.list)[pos], cs);
                return reverse ? less_than(ky, kx) : less_than(kx, ky);
            });
            return Value::make_list(std::move(items));
        };
        f["map"] = [](const Value& v, const CallArgs& a) {
            List out;
            const Value* attribute = nullptr;
            for (const auto& [k, val] : a.keyword)
                if (k == "attribute") attribute = &val;
            if (attribute) {
                const Value* fallback = nullptr;
                for (const auto& [k, val] : a.keyword)
                    if (k == "default") fallback = &val;
                for (const Value& item : to_list(v)) {
                    Value x = attr_path(item, to_str(*attribute));
                    out.push_back(x.is_undefined() && fallback ? *fallback : x);
                }
                return Value::make_list(std::move(out));
            }
            if (a.positional.empty() || !a.positional[0].is_string()) throw EvalError{"map requires a filter name or attribute="};
            CallArgs rest;
            rest.positional.assign(a.positional.begin() + 1, a.positional.end());
            rest.keyword = a.keyword;
            for (const Value& item : to_list(v)) out.push_back(call_filter(a.positional[0].s, item, rest));
            return Value::make_list(std::move(out));
        };
        f["selectattr"] = [](const Value& v, const CallArgs& a) { return Value::make_list(select(v, a, true, true)); };
        f["rejectattr"] = [](const Value& v, const CallArgs& a) { return Value::make_list(select(v, a, true, false)); };
        f["select"] = [](const Value& v, const CallArgs& a) { return Value::make_list(select(v, a, false, true)); };
        f["reject"] = [](const Value& v, const CallArgs& a) { return Value::make_list(select(v, a, false, false)); };
        f["attr"] = [](const Value& v, const CallArgs& a) {
            const Value* n = a.get(0, "name");
            if (!n || !n->is_string()) throw EvalError{"attr needs a name"};
            if (v.type == Value::Type::Namespace) return get_attribute(v, n->s);
            return bound_method(v, n->s);
        };
        f["indent"] = indent;
        f["format"] = [](const Value& v, const CallArgs& a) {
            if (!a.keyword.empty() && !a.positional.empty()) throw EvalError{"can't handle positional and keyword arguments at the same time"};
            return Value::string(percent_format(to_str(v), Value::make_tuple(a.positional)));
        };
        f["batch"] = [](const Value& v, const CallArgs& a) {
            int64_t size = int_arg(a, 0, "linecount", 1);
            if (size <= 0) throw EvalError{"batch size must be positive"};
            const Value* fill = a.get(1, "fill_with");
            List out, cur;
            for (const Value& item : to_list(v)) {
                cur.push_back(item);
                if (static_cast<int64_t>(cur.size()) == size) {
                    out.push_back(Value::make_list(std::move(cur)));
                    cur.clear();
                }
            }
            if (!cur.empty()) {
                if (fill && !fill->is_none())
                    while (static_cast<int64_t>(cur.size()) < size) cur.push_back(*fill);
                out.push_back(Value::make_list(std::move(cur)));
            }
            return Value::make_list(std::move(out));
        };
        f["wordcount"] = [](const Value& v, const CallArgs&) {
            return Value::integer(static_cast<int64_t>(get_attribute(Value::string(to_str(v)), "split").fn->call({}).list->size()));
        };
        return f;
    }();
    return filters;
}

}  // namespace

bool has_filter(const std::string& name) { return table().count(name) > 0; }

Value apply_filter(const std::string& name, const Value& input, const CallArgs& args) {
    return call_filter(name, input, args);
}

}  // namespace lathe::chat
