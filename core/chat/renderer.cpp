#include "core/chat/renderer.h"

#include <iomanip>
#include <locale>
#include <sstream>
#include <unordered_map>

#include "core/chat/builtins.h"
#include "core/chat/errors.h"
#include "core/chat/operators.h"

namespace lathe::chat {
namespace {

// Variables visible at one level; lookups fall through to the parent (the enclosing template level
// for a loop iteration, the defining level for a macro).
struct Scope {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Scope> parent;

    const Value* find(const std::string& name) const {
        for (const Scope* s = this; s; s = s->parent.get()) {
            auto it = s->vars.find(name);
            if (it != s->vars.end()) return &it->second;
        }
        return nullptr;
    }
};
using ScopePtr = std::shared_ptr<Scope>;

ScopePtr child(const ScopePtr& parent) {
    auto s = std::make_shared<Scope>();
    s->parent = parent;
    return s;
}

enum class Flow { Normal, Break, Continue };

class Renderer {
public:
    Renderer(const std::string& name, const RenderOptions& options) : name_(name), options_(options) {}

    std::string run(const Body& body, const nlohmann::ordered_json& variables) {
        auto globals = std::make_shared<Scope>();
        install_globals(*globals);
        auto root = child(globals);
        if (!variables.is_null() && !variables.is_object()) throw TemplateError(name_ + ": variables must be a JSON object");
        if (variables.is_object())
            for (const auto& [k, v] : variables.items()) root->vars[k] = Value::from_json(v);
        std::string out;
        exec(body, root, out);
        return out;
    }

private:
    void install_globals(Scope& g) {
        g.vars["raise_exception"] = Value::function("raise_exception", [](const CallArgs& a) -> Value {
            const Value* m = a.get(0, "message");
            throw TemplateRaised(m ? to_str(*m) : std::string());
        });
        g.vars["strftime_now"] = Value::function("strftime_now", [this](const CallArgs& a) {
            const Value* f = a.get(0, "format");
            if (!f || !f->is_string()) throw EvalError{"strftime_now() argument must be str"};
            std::time_t now = options_.now ? options_.now() : std::time(nullptr);
            std::tm tm{};
            localtime_r(&now, &tm);  // datetime.now() is local time
            // The classic locale, so month and day names are English whatever the process locale.
            std::ostringstream os;
            os.imbue(std::locale::classic());
            os << std::put_time(&tm, f->s.c_str());
            return Value::string(os.str());
        });
        g.vars["namespace"] = Value::function("namespace", [](const CallArgs& a) {
            Dict d;
            for (const Value& p : a.positional) {
                if (p.type != Value::Type::Dict) throw EvalError{"namespace() positional argument must be a dict"};
                for (const auto& [k, v] : p.dict->items) d.set(k, v);
            }
            for (const auto& [k, v] : a.keyword) d.set(k, v);
            return Value::make_namespace(std::move(d));
        });
        g.vars["dict"] = Value::function("dict", [](const CallArgs& a) {
            Dict d;
            for (const Value& p : a.positional) {
                if (p.type != Value::Type::Dict) throw EvalError{"dict() positional argument must be a dict"};
                for (const auto& [k, v] : p.dict->items) d.set(k, v);
            }
            for (const auto& [k, v] : a.keyword) d.set(k, v);
            return Value::make_dict(std::move(d));
        });
        g.vars["range"] = Value::function("range", [](const CallArgs& a) {
            std::vector<int64_t> n;
            for (const Value& v : a.positional) {
                if (v.type != Value::Type::Int && v.type != Value::Type::Bool)
                    throw EvalError{"'" + type_name(v) + "' object cannot be interpreted as an integer"};
                n.push_back(v.type == Value::Type::Int ? v.i : v.b);
            }
            if (n.empty() || n.size() > 3) throw EvalError{"range expected 1 to 3 arguments"};
            int64_t start = n.size() == 1 ? 0 : n[0], stop = n.size() == 1 ? n[0] : n[1], step = n.size() == 3 ? n[2] : 1;
            if (step == 0) throw EvalError{"range() arg 3 must not be zero"};
            List items;
            for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
                // jinja2's sandbox caps ranges (MAX_RANGE).
                if (items.size() >= 100000) throw EvalError{"Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)."};
                items.push_back(Value::integer(k));
            }
            return Value::make_list(std::move(items));
        });
    }

    // ---- statements ----

    Flow exec(const Body& body, const ScopePtr& scope, std::string& out) {
        for (const auto& stmt : body) {
            Flow f = exec_stmt(*stmt, scope, out);
            if (f != Flow::Normal) return f;
        }
        return Flow::Normal;
    }

    Flow exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out) {
        try {
            return exec_stmt_unchecked(s, scope, out);
        } catch (const EvalError& e) {
            throw template_error(name_, s.line, e.message);
        } catch (const UndefinedFailure& e) {
            throw template_error(name_, s.line, e.message);
        } catch (const lathe::Error&) {
            throw;  // TemplateRaised, or a TemplateError that already names its line
        } catch (const std::exception& e) {
            throw template_error(name_, s.line, e.what());
        }
    }

    Flow exec_stmt_unchecked(const Stmt& s, const ScopePtr& scope, std::string& out) {
        switch (s.kind) {
            case Stmt::Kind::Text: out += s.text; return Flow::Normal;
            case Stmt::Kind::Print: {
                Value v = eval(*s.expr, scope);
                if (options_.strict_undefined && v.is_undefined()) fail_undefined(v);
                out += to_str(v);
                return Flow::Normal;
            }
            case Stmt::Kind::If:
                for (const auto& [cond, body] : s.branches)
                    if (truthy(eval(*cond, scope))) return exec(body, scope, out);
                return exec(s.else_body, scope, out);
            case Stmt::Kind::For: return exec_for(s, scope, out);
            case Stmt::Kind::Set: assign(s.target, eval(*s.expr, scope), scope); return Flow::Normal;
            case Stmt::Kind::SetBlock: {
                std::string text;
                // A {% break %} inside the block leaves the enclosing loop, as in jinja2's Python.
                if (Flow f = exec(s.body, child(scope), text); f != Flow::Normal) return f;
                assign(s.target, apply_filters(s.filters, Value::string(text), scope), scope);
                return Flow::Normal;
            }
            case Stmt::Kind::Macro: scope->vars[s.name] = make_macro(s, scope); return Flow::Normal;
            case Stmt::Kind::CallBlock: {
                Value caller = make_macro(s, scope);
                out += to_str(eval_call(*s.expr, scope, &caller));
                return Flow::Normal;
            }
            case Stmt::Kind::FilterBlock: {
                std::string text;
                if (Flow f = exec(s.body, child(scope), text); f != Flow::Normal) return f;
                out += to_str(apply_filters(s.filters, Value::string(text), scope));
                return Flow::Normal;
            }
            case Stmt::Kind::With: {
                auto inner = child(scope);
                for (const auto& [target, expr] : s.assigns) assign(target, eval(*expr, scope), inner);
                return exec(s.body, inner, out);
            }
            case Stmt::Kind::Break: return Flow::Break;
            case Stmt::Kind::Continue: return Flow::Continue;
            case Stmt::Kind::Scope: return exec(s.body, scope, out);
        }
        return Flow::Normal;
    }

    Value apply_filters(const std::vector<ExprPtr>& filters, Value v, const ScopePtr& scope) {
        for (const auto& f : filters) v = apply_filter(f->name, v, eval_args(*f, 1, scope));
        return v;
    }

    void bind(const Target& target, const Value& v, const ScopePtr& scope) {
        if (!target.unpack) {
            scope->vars[target.names[0]] = v;
            return;
        }
        List items = iterate(v);
        if (items.size() != target.names.size()) {
            if (items.size() > target.names.size())
                throw EvalError{"too many values to unpack (expected " + std::to_string(target.names.size()) + ")"};
            throw EvalError{"not enough values to unpack (expected " + std::to_string(target.names.size()) + ", got " +
                            std::to_string(items.size()) + ")"};
        }
        for (size_t k = 0; k < items.size(); ++k) scope->vars[target.names[k]] = items[k];
    }

    void assign(const Target& target, const Value& v, const ScopePtr& scope) {
        if (target.attr.empty()) {
            bind(target, v, scope);
            return;
        }
        const Value* ns = scope->find(target.names[0]);
        if (!ns || ns->type != Value::Type::Namespace)
            throw EvalError{"cannot assign attribute on non-namespace object"};
        ns->dict->set(target.attr, v);
    }

    Flow exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
        List items = iterate(eval(*s.expr, scope));
        if (s.cond) {
            // `for x in xs if cond`: filtered before the loop starts, so loop.length counts survivors.
            List kept;
            for (const Value& item : items) {
                auto probe = child(scope);
                bind(s.target, item, probe);
                if (truthy(eval(*s.cond, probe))) kept.push_back(item);
            }
            items = std::move(kept);
        }
        const int64_t n = static_cast<int64_t>(items.size());
        for (int64_t k = 0; k < n; ++k) {
            auto iter = child(scope);  // a fresh scope per iteration: `set` in the body never leaks
            bind(s.target, items[static_cast<size_t>(k)], iter);
            iter->vars["loop"] = loop_object(items, k);
            if (exec(s.body, iter, out) == Flow::Break) break;
        }
        if (n == 0) exec(s.else_body, child(scope), out);
        return Flow::Normal;
    }

    static Value loop_object(const List& items, int64_t k) {
        const int64_t n = static_cast<int64_t>(items.size());
        Dict d;
        d.set("index", Value::integer(k + 1));
        d.set("index0", Value::integer(k));
        d.set("revindex", Value::integer(n - k));
        d.set("revindex0", Value::integer(n - k - 1));
        d.set("first", Value::boolean(k == 0));
        d.set("last", Value::boolean(k == n - 1));
        d.set("length", Value::integer(n));
        d.set("depth", Value::integer(1));
        d.set("depth0", Value::integer(0));
        d.set("previtem", k > 0 ? items[static_cast<size_t>(k - 1)] : Value::undefined("there is no previous item"));
        d.set("nextitem", k + 1 < n ? items[static_cast<size_t>(k + 1)] : Value::undefined("there is no next item"));
        d.set("cycle", Value::function("loop.cycle", [k](const CallArgs& a) {
            if (a.positional.empty()) throw EvalError{"no items for cycling given"};
            return a.positional[static_cast<size_t>(k) % a.positional.size()];
        }));
        // The loop object is a namespace-like attribute holder, not a dict the template can iterate.
        return Value::make_namespace(std::move(d));
    }

    // A macro (or a {% call %} block's caller) as a callable: binds arguments like jinja2 (missing
    // ones are Undefined or their default; extras go to varargs/kwargs), renders its body.
    Value make_macro(const Stmt& s, const ScopePtr& defined_in) {
        const Stmt* stmt = &s;
        std::string macro_name = s.kind == Stmt::Kind::Macro ? s.name : "caller";
        // jinja2 accepts extra positional/keyword arguments (and `caller`) only when the body uses
        // varargs/kwargs/caller.
        MacroUses uses;
        scan(s.body, uses);
        return Value::function(macro_name, [this, stmt, defined_in, uses, macro_name](const CallArgs& a) {
            // Python stops runaway recursion with RecursionError; a template must not crash Lathe.
            if (depth_ >= kMaxMacroDepth) throw EvalError{"maximum recursion depth exceeded in macro calls"};
            struct DepthGuard {
                int& d;
                explicit DepthGuard(int& depth) : d(depth) { ++d; }
                ~DepthGuard() { --d; }
            } guard(depth_);
            auto scope = child(defined_in);
            List varargs;
            Dict kwargs;
            for (size_t k = 0; k < a.positional.size(); ++k) {
                if (k < stmt->params.size()) {
                    scope->vars[stmt->params[k].first] = a.positional[k];
                } else if (uses.varargs) {
                    varargs.push_back(a.positional[k]);
                } else {
                    throw EvalError{"macro '" + macro_name + "' takes not more than " + std::to_string(stmt->params.size()) + " argument(s)"};
                }
            }
            for (const auto& [key, v] : a.keyword) {
                bool is_param = false;
                for (size_t k = a.positional.size(); k < stmt->params.size(); ++k) is_param = is_param || stmt->params[k].first == key;
                if (is_param || (key == "caller" && uses.caller)) {
                    scope->vars[key] = v;
                } else if (uses.kwargs) {
                    kwargs.set(key, v);
                } else {
                    throw EvalError{"macro '" + macro_name + "' takes no keyword argument '" + key + "'"};
                }
            }
            for (size_t k = 0; k < stmt->params.size(); ++k) {
                const auto& [pname, def] = stmt->params[k];
                if (scope->vars.count(pname)) continue;
                scope->vars[pname] = def ? eval(*def, scope) : Value::undefined("'" + pname + "' is undefined");
            }
            scope->vars["varargs"] = Value::make_tuple(std::move(varargs));
            scope->vars["kwargs"] = Value::make_dict(std::move(kwargs));
            std::string text;
            exec(stmt->body, scope, text);
            return Value::string(text);
        });
    }

    struct MacroUses {
        bool caller = false, varargs = false, kwargs = false;
    };

    static void scan(const Expr* e, MacroUses& u) {
        if (!e) return;
        if (e->kind == Expr::Kind::Name) {
            u.caller = u.caller || e->name == "caller";
            u.varargs = u.varargs || e->name == "varargs";
            u.kwargs = u.kwargs || e->name == "kwargs";
        }
        for (const auto& x : e->args) scan(x.get(), u);
        for (const auto& kw : e->kwargs) scan(kw.second.get(), u);
        for (const auto& [k, v] : e->pairs) {
            scan(k.get(), u);
            scan(v.get(), u);
        }
    }

    static void scan(const Body& body, MacroUses& u) {
        for (const auto& s : body) {
            scan(s->expr.get(), u);
            scan(s->cond.get(), u);
            for (const auto& [c, b] : s->branches) {
                scan(c.get(), u);
                scan(b, u);
            }
            scan(s->body, u);
            scan(s->else_body, u);
            for (const auto& p : s->params) scan(p.second.get(), u);
            for (const auto& f : s->filters) scan(f.get(), u);
            for (const auto& a : s->assigns) scan(a.second.get(), u);
        }
    }

    // ---- expressions ----

    CallArgs eval_args(const Expr& e, size_t first, const ScopePtr& scope) {
        CallArgs a;
        for (size_t k = first; k < e.args.size(); ++k) a.positional.push_back(eval(*e.args[k], scope));
        for (const auto& [key, v] : e.kwargs) a.keyword.emplace_back(key, eval(*v, scope));
        return a;
    }

    Value eval_call(const Expr& e, const ScopePtr& scope, const Value* caller) {
        Value callee = eval(*e.args[0], scope);
        CallArgs a = eval_args(e, 1, scope);
        if (caller) a.keyword.emplace_back("caller", *caller);
        if (callee.type == Value::Type::Callable) return callee.fn->call(a);
        if (callee.is_undefined()) fail_undefined(callee);
        throw EvalError{"'" + type_name(callee) + "' object is not callable"};
    }

    Value eval(const Expr& e, const ScopePtr& scope) {
        switch (e.kind) {
            case Expr::Kind::Const: return e.value;
            case Expr::Kind::Name: {
                const Value* v = scope->find(e.name);
                return v ? *v : Value::undefined("'" + e.name + "' is undefined");
            }
            case Expr::Kind::GetAttr: return get_attribute(eval(*e.args[0], scope), e.name);
            case Expr::Kind::GetItem: return get_item(eval(*e.args[0], scope), eval(*e.args[1], scope));
            case Expr::Kind::Slice: {
                Value obj = eval(*e.args[0], scope);
                Value parts[3];
                for (int k = 0; k < 3; ++k)
                    if (e.args[static_cast<size_t>(k) + 1]) parts[k] = eval(*e.args[static_cast<size_t>(k) + 1], scope);
                auto part = [&](int k) { return e.args[static_cast<size_t>(k) + 1] ? &parts[k] : nullptr; };
                return get_slice(obj, part(0), part(1), part(2));
            }
            case Expr::Kind::Call: return eval_call(e, scope, nullptr);
            case Expr::Kind::Filter: return apply_filter(e.name, eval(*e.args[0], scope), eval_args(e, 1, scope));
            case Expr::Kind::Test: return Value::boolean(apply_test(e.name, eval(*e.args[0], scope), eval_args(e, 1, scope)));
            case Expr::Kind::Unary: return unary_op(e.name, eval(*e.args[0], scope));
            case Expr::Kind::Binary: return binary_op(e.name, eval(*e.args[0], scope), eval(*e.args[1], scope));
            case Expr::Kind::And: {
                Value l = eval(*e.args[0], scope);
                return truthy(l) ? eval(*e.args[1], scope) : l;
            }
            case Expr::Kind::Or: {
                Value l = eval(*e.args[0], scope);
                return truthy(l) ? l : eval(*e.args[1], scope);
            }
            case Expr::Kind::Compare: {
                Value left = eval(*e.args[0], scope);
                for (size_t k = 0; k < e.ops.size(); ++k) {
                    Value right = eval(*e.args[k + 1], scope);
                    if (!compare(e.ops[k], left, right)) return Value::boolean(false);
                    left = std::move(right);
                }
                return Value::boolean(true);
            }
            case Expr::Kind::CondExpr:
                if (truthy(eval(*e.args[0], scope))) return eval(*e.args[1], scope);
                return e.args[2] ? eval(*e.args[2], scope) : Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
            case Expr::Kind::List:
            case Expr::Kind::Tuple: {
                List items;
                for (const auto& a : e.args) items.push_back(eval(*a, scope));
                return e.kind == Expr::Kind::List ? Value::make_list(std::move(items)) : Value::make_tuple(std::move(items));
            }
            case Expr::Kind::Dict: {
                Dict d;
                for (const auto& [k, v] : e.pairs) {
                    Value key = eval(*k, scope);
                    d.set(std::move(key), eval(*v, scope));
                }
                return Value::make_dict(std::move(d));
            }
        }
        return Value::undefined();
    }

    static bool compare(const std::string& op, const Value& a, const Value& b) {
        if (op == "==") return equals(a, b);
        if (op == "!=") return !equals(a, b);
        if (op == "in") return value_contains(b, a);
        if (op == "not in") return !value_contains(b, a);
        if (a.is_undefined()) fail_undefined(a);
        if (b.is_undefined()) fail_undefined(b);
        if (op == "<") return less_than(a, b);
        if (op == ">") return less_than(b, a);
        if (op == "<=") return !less_than(b, a);
        if (op == ">=") return !less_than(a, b);
        throw EvalError{"unknown comparison " + op};
    }

    static constexpr int kMaxMacroDepth = 200;

    const std::string& name_;
    const RenderOptions& options_;
    int depth_ = 0;  // macro calls in progress
};

}  // namespace

std::string render_template(const Body& body, const std::string& name, const nlohmann::ordered_json& variables,
                            const RenderOptions& options) {
    return Renderer(name, options).run(body, variables);
}

}  // namespace lathe::chat
