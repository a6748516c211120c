// Attribute, item and slice access with jinja2's rules (sandboxed getattr/getitem): a missing key or
// index gives Undefined rather than an error, but anything done to an Undefined fails.
#include "core/chat/builtins.h"
#include "core/chat/utf8.h"

namespace lathe::chat {

void fail_undefined(const Value& undefined) {
    throw UndefinedFailure{undefined.s.empty() ? "value is undefined" : undefined.s};
}

Value get_attribute(const Value& obj, const std::string& name) {
    if (obj.is_undefined()) fail_undefined(obj);
    std::string hint = "'" + type_name(obj) + " object' has no attribute '" + name + "'";
    if (obj.type == Value::Type::Namespace) {
        const Value* v = obj.dict->find(name);
        return v ? *v : Value::undefined(hint);
    }
    Value method = bound_method(obj, name);
    if (!method.is_undefined() || !method.s.empty()) return method;
    if (obj.type == Value::Type::Dict) {
        const Value* v = obj.dict->find(name);
        return v ? *v : Value::undefined(hint);
    }
    return Value::undefined(hint);
}

Value get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) fail_undefined(obj);
    switch (obj.type) {
        case Value::Type::Dict:
        case Value::Type::Namespace:
            if (const Value* v = obj.dict->find(key)) return *v;
            if (key.is_string())
                return obj.type == Value::Type::Dict ? get_attribute(obj, key.s)
                                                     : Value::undefined("'" + type_name(obj) + " object' has no attribute '" + key.s + "'");
            return Value::undefined("'dict object' has no attribute " + to_repr(key));
        case Value::Type::List:
        case Value::Type::Tuple:
        case Value::Type::String: {
            if (key.type != Value::Type::Int && key.type != Value::Type::Bool) {
                if (key.is_string()) return get_attribute(obj, key.s);
                return Value::undefined();
            }
            int64_t idx = key.type == Value::Type::Bool ? key.b : key.i;
            if (obj.is_string()) {
                auto chars = utf8::split_chars(obj.s);
                int64_t n = static_cast<int64_t>(chars.size());
                if (idx < 0) idx += n;
                if (idx < 0 || idx >= n) return Value::undefined("'str object' has no element " + std::to_string(key.i));
                return Value::string(chars[static_cast<size_t>(idx)]);
            }
            int64_t n = static_cast<int64_t>(obj.list->size());
            if (idx < 0) idx += n;
            if (idx < 0 || idx >= n) return Value::undefined("'" + type_name(obj) + " object' has no element " + std::to_string(key.i));
            return (*obj.list)[static_cast<size_t>(idx)];
        }
        default:
            if (key.is_string()) return get_attribute(obj, key.s);
            return Value::undefined();
    }
}

namespace {
int64_t slice_bound(const Value* v, const char* what) {
    if (v->type == Value::Type::Int) return v->i;
    if (v->type == Value::Type::Bool) return v->b;
    throw EvalError{std::string("slice ") + what + " must be an integer or None, not " + type_name(*v)};
}
}  // namespace

Value get_slice(const Value& obj, const Value* start_v, const Value* stop_v, const Value* step_v) {
    if (obj.is_undefined()) fail_undefined(obj);
    auto absent = [](const Value* v) { return !v || v->is_none(); };
    int64_t step = absent(step_v) ? 1 : slice_bound(step_v, "step");
    if (step == 0) throw EvalError{"slice step cannot be zero"};
    std::vector<std::string> chars;
    int64_t n;
    if (obj.is_string()) {
        chars = utf8::split_chars(obj.s);
        n = static_cast<int64_t>(chars.size());
    } else if (obj.is_sequence_like()) {
        n = static_cast<int64_t>(obj.list->size());
    } else {
        // jinja2 compiles a slice to a plain Python subscript (bypassing its lenient getitem).
        throw EvalError{"'" + type_name(obj) + "' object is not subscriptable"};
    }
    // Python's PySlice_AdjustIndices.
    auto adjust = [&](const Value* v, int64_t fallback) {
        if (absent(v)) return fallback;
        int64_t x = slice_bound(v, "index");
        if (x < 0) {
            x += n;
            if (x < 0) x = step < 0 ? -1 : 0;
        } else if (x >= n) {
            x = step < 0 ? n - 1 : n;
        }
        return x;
    };
    int64_t start = adjust(start_v, step < 0 ? n - 1 : 0);
    int64_t stop = adjust(stop_v, step < 0 ? -1 : n);
    std::string s;
    List items;
    for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
        if (obj.is_string()) {
            s += chars[static_cast<size_t>(k)];
        } else {
            items.push_back((*obj.list)[static_cast<size_t>(k)]);
        }
    }
    if (obj.is_string()) return Value::string(s);
    return obj.type == Value::Type::Tuple ? Value::make_tuple(std::move(items)) : Value::make_list(std::move(items));
}

}  // namespace lathe::chat
