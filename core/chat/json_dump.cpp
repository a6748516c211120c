// transformers' tojson is json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False): Python's separators (", " and ": "), no HTML escaping, non-ASCII kept.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/chat/builtins.h"
#include "core/chat/utf8.h"

namespace lathe::chat {
namespace {

void dump_string(const std::string& s, bool ensure_ascii, std::string& out) {
    out += '"';
    for (size_t pos = 0; pos < s.size();) {
        size_t len = 0;
        uint32_t cp = utf8::decode(s, pos, &len);
        char buf[16];
        switch (cp) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
                    if (cp >= 0x10000) {
                        uint32_t v = cp - 0x10000;
                        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                    } else {
                        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
                    }
                    out += buf;
                } else {
                    out.append(s, pos, len);
                }
        }
        pos += len;
    }
    out += '"';
}

// json.dumps turns non-string keys into strings: 1 -> "1", True -> "true", None -> "null".
std::string key_string(const Value& k) {
    switch (k.type) {
        case Value::Type::String: return k.s;
        case Value::Type::Bool: return k.b ? "true" : "false";
        case Value::Type::None: return "null";
        case Value::Type::Int: return std::to_string(k.i);
        case Value::Type::Float: return float_repr(k.f);
        default: throw EvalError{"keys must be str, int, float, bool or None, not " + type_name(k)};
    }
}

void dump(const Value& v, const JsonOptions& o, int level, std::string& out) {
    auto newline = [&](int lvl) {
        out += '\n';
        for (int k = 0; k < lvl; ++k) out += o.indent_is_string ? o.indent_string : std::string(static_cast<size_t>(o.indent), ' ');
    };
    bool indented = o.indent >= 0 || o.indent_is_string;
    // With an indent, Python's default item separator loses its trailing space.
    std::string item_sep = o.item_separator;
    switch (v.type) {
        case Value::Type::None: out += "null"; return;
        case Value::Type::Bool: out += v.b ? "true" : "false"; return;
        case Value::Type::Int: out += std::to_string(v.i); return;
        case Value::Type::Float:
            if (std::isnan(v.f)) {
                out += "NaN";
            } else if (std::isinf(v.f)) {
                out += v.f > 0 ? "Infinity" : "-Infinity";
            } else {
                out += float_repr(v.f);
            }
            return;
        case Value::Type::String: dump_string(v.s, o.ensure_ascii, out); return;
        case Value::Type::List:
        case Value::Type::Tuple: {
            if (v.list->empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t k = 0; k < v.list->size(); ++k) {
                if (k) out += item_sep;
                if (indented) newline(level + 1);
                dump((*v.list)[k], o, level + 1, out);
            }
            if (indented) newline(level);
            out += ']';
            return;
        }
        case Value::Type::Dict: {
            if (v.dict->items.empty()) {
                out += "{}";
                return;
            }
            std::vector<const std::pair<Value, Value>*> items;
            for (const auto& kv : v.dict->items) items.push_back(&kv);
            if (o.sort_keys)
                std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return less_than(a->first, b->first); });
            out += '{';
            bool first = true;
            for (const auto* kv : items) {
                if (!first) out += item_sep;
                first = false;
                if (indented) newline(level + 1);
                dump_string(key_string(kv->first), o.ensure_ascii, out);
                out += o.key_separator;
                dump(kv->second, o, level + 1, out);
            }
            if (indented) newline(level);
            out += '}';
            return;
        }
        default: throw EvalError{"Object of type " + type_name(v) + " is not JSON serializable"};
    }
}

}  // namespace

std::string json_dumps(const Value& v, const JsonOptions& options) {
    std::string out;
    dump(v, options, 0, out);
    return out;
}

}  // namespace lathe::chat
