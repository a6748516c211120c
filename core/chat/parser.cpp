#include "core/chat/parser.h"

#include <algorithm>
#include <initializer_list>

#include "core/chat/errors.h"

namespace lathe::chat {
namespace {

class Parser {
public:
    Parser(const std::vector<Token>& tokens, const std::string& name) : t_(tokens), name_(name) {}

    Body parse_all() {
        Body body = subparse({});
        if (cur().type != Tok::Eof) fail("unexpected '" + cur().text + "'");
        return body;
    }

private:
    const Token& cur() const { return t_[pos_]; }
    const Token& peek(size_t ahead = 1) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
    const Token& next() {
        const Token& t = t_[pos_];
        if (pos_ + 1 < t_.size()) ++pos_;
        return t;
    }
    [[noreturn]] void fail(const std::string& message) const { throw template_error(name_, cur().line, message); }

    bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
    bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(const char* n) {
        if (!is_name(n)) return false;
        next();
        return true;
    }
    static std::string describe(const Token& t) {
        switch (t.type) {
            case Tok::Eof: return "end of template";
            case Tok::BlockEnd: return "end of statement block";
            case Tok::VarEnd: return "end of print statement";
            case Tok::String: return "string";
            default: return "'" + t.text + "'";
        }
    }
    void expect_op(const char* op) {
        if (!skip_op(op)) fail(std::string("expected token '") + op + "', got " + describe(cur()));
    }
    std::string expect_name() {
        if (cur().type != Tok::Name) fail("expected name, got " + describe(cur()));
        return next().text;
    }
    void expect_block_end() {
        if (cur().type != Tok::BlockEnd) fail("expected end of statement block, got " + describe(cur()));
        next();
    }

    ExprPtr node(Expr::Kind kind, int line) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->line = line;
        return e;
    }

    // ---- statements ----

    // Parses until a block tag whose first word is in `end`; leaves the stream on that word.
    Body subparse(std::initializer_list<const char*> end) {
        Body body;
        while (true) {
            const Token& t = cur();
            if (t.type == Tok::Eof) {
                if (end.size() == 0) return body;
                std::string expected;
                for (const char* e : end) expected += (expected.empty() ? "'" : " or '") + std::string(e) + "'";
                fail("unexpected end of template, expected " + expected);
            }
            if (t.type == Tok::Text) {
                auto s = std::make_unique<Stmt>();
                s->kind = Stmt::Kind::Text;
                s->line = t.line;
                s->text = t.text;
                body.push_back(std::move(s));
                next();
            } else if (t.type == Tok::VarBegin) {
                next();
                auto s = std::make_unique<Stmt>();
                s->kind = Stmt::Kind::Print;
                s->line = t.line;
                s->expr = parse_tuple(true, {});
                if (cur().type != Tok::VarEnd) fail("expected end of print statement, got " + describe(cur()));
                next();
                body.push_back(std::move(s));
            } else if (t.type == Tok::BlockBegin) {
                next();
                if (cur().type == Tok::Name)
                    for (const char* e : end)
                        if (cur().text == e) return body;
                body.push_back(statement());
            } else {
                fail("unexpected " + describe(t));
            }
        }
    }

    StmtPtr statement() {
        if (cur().type != Tok::Name) fail("tag name expected");
        std::string tag = cur().text;
        int line = cur().line;
        auto s = std::make_unique<Stmt>();
        s->line = line;
        next();
        if (tag == "if") {
            s->kind = Stmt::Kind::If;
            ExprPtr c = parse_tuple(false, {});
            expect_block_end();
            while (true) {
                Body b = subparse({"elif", "else", "endif"});
                s->branches.emplace_back(std::move(c), std::move(b));
                std::string word = next().text;
                if (word == "elif") {
                    c = parse_tuple(false, {});
                    expect_block_end();
                    continue;
                }
                if (word == "else") {
                    expect_block_end();
                    s->else_body = subparse({"endif"});
                    next();
                }
                break;
            }
            expect_block_end();
        } else if (tag == "for") {
            s->kind = Stmt::Kind::For;
            s->target = assign_target(false);
            if (!skip_name("in")) fail("expected 'in', got " + describe(cur()));
            s->expr = parse_tuple(false, {"recursive"});
            if (skip_name("if")) s->cond = parse_expression(true);
            if (skip_name("recursive")) fail("recursive for loops are not supported");
            expect_block_end();
            s->body = subparse({"endfor", "else"});
            if (next().text == "else") {
                expect_block_end();
                s->else_body = subparse({"endfor"});
                next();
            }
            expect_block_end();
        } else if (tag == "set") {
            s->target = assign_target(true);
            if (skip_op("=")) {
                s->kind = Stmt::Kind::Set;
                s->expr = parse_tuple(true, {});
                expect_block_end();
            } else {
                s->kind = Stmt::Kind::SetBlock;
                while (is_op("|")) {
                    next();
                    s->filters.push_back(filter_call(nullptr));
                }
                expect_block_end();
                s->body = subparse({"endset"});
                next();
                expect_block_end();
            }
        } else if (tag == "macro" || tag == "call") {
            if (tag == "call") {
                s->kind = Stmt::Kind::CallBlock;
                if (is_op("(")) params(s->params);
                s->expr = parse_expression(true);
                if (s->expr->kind != Expr::Kind::Call) fail("expected call");
            } else {
                s->kind = Stmt::Kind::Macro;
                s->name = expect_name();
                params(s->params);
            }
            expect_block_end();
            const char* end = tag == "macro" ? "endmacro" : "endcall";
            s->body = subparse({end});
            next();
            if (cur().type == Tok::Name && tag == "macro" && cur().text == s->name) next();
            expect_block_end();
        } else if (tag == "filter") {
            s->kind = Stmt::Kind::FilterBlock;
            s->filters.push_back(filter_call(nullptr));
            while (skip_op("|")) s->filters.push_back(filter_call(nullptr));
            expect_block_end();
            s->body = subparse({"endfilter"});
            next();
            expect_block_end();
        } else if (tag == "with") {
            s->kind = Stmt::Kind::With;
            while (cur().type != Tok::BlockEnd) {
                if (!s->assigns.empty()) expect_op(",");
                Target target = assign_target(false);
                expect_op("=");
                s->assigns.emplace_back(std::move(target), parse_expression(true));
            }
            expect_block_end();
            s->body = subparse({"endwith"});
            next();
            expect_block_end();
        } else if (tag == "break" || tag == "continue") {
            s->kind = tag == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
            expect_block_end();
        } else if (tag == "generation" || tag == "block") {
            // transformers' AssistantTracker: {% generation %} only marks assistant text; rendering is
            // unchanged. A {% block %} in a standalone template renders in place.
            s->kind = Stmt::Kind::Scope;
            if (tag == "block") {
                s->name = expect_name();
                skip_name("scoped");
                skip_name("required");
            }
            expect_block_end();
            s->body = subparse({tag == "block" ? "endblock" : "endgeneration"});
            next();
            if (tag == "block" && cur().type == Tok::Name) next();
            expect_block_end();
        } else {
            throw template_error(name_, line, "Encountered unknown tag '" + tag + "'.");
        }
        return s;
    }

    void params(std::vector<std::pair<std::string, ExprPtr>>& out) {
        expect_op("(");
        while (!is_op(")")) {
            if (!out.empty()) expect_op(",");
            std::string n = expect_name();
            ExprPtr def;
            if (skip_op("=")) def = parse_expression(true);
            out.emplace_back(std::move(n), std::move(def));
        }
        expect_op(")");
    }

    Target assign_target(bool with_namespace) {
        Target target;
        if (with_namespace && cur().type == Tok::Name && peek().type == Tok::Op && peek().text == ".") {
            target.names.push_back(next().text);
            next();
            target.attr = expect_name();
            return target;
        }
        bool paren = skip_op("(");
        target.names.push_back(expect_name());
        while (skip_op(",")) {
            target.unpack = true;
            if (cur().type != Tok::Name) break;
            target.names.push_back(expect_name());
        }
        if (paren) {
            target.unpack = true;
            expect_op(")");
        }
        return target;
    }

    // ---- expressions (jinja2's precedence ladder) ----

    // A comma-separated list becomes a tuple; `{{ a, b }}` prints "(a, b)".
    ExprPtr parse_tuple(bool with_condexpr, std::initializer_list<const char*> extra_end) {
        int line = cur().line;
        std::vector<ExprPtr> items;
        bool comma = false;
        while (true) {
            if (!items.empty()) {
                if (!skip_op(",")) break;
                comma = true;
            }
            if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || is_op(")") || is_op("]") || is_op("}")) break;
            bool stop = false;
            for (const char* e : extra_end)
                if (is_name(e)) stop = true;
            if (stop) break;
            items.push_back(parse_expression(with_condexpr));
        }
        if (!comma) {
            if (items.empty()) fail("Expected an expression, got " + describe(cur()));
            return std::move(items[0]);
        }
        auto e = node(Expr::Kind::Tuple, line);
        e->args = std::move(items);
        return e;
    }

    ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

    ExprPtr parse_condexpr() {
        ExprPtr e = parse_or();
        while (is_name("if")) {
            int line = next().line;
            auto c = node(Expr::Kind::CondExpr, line);
            c->args.push_back(parse_or());
            c->args.push_back(std::move(e));
            c->args.push_back(skip_name("else") ? parse_condexpr() : nullptr);
            e = std::move(c);
        }
        return e;
    }

    ExprPtr parse_or() {
        ExprPtr e = parse_and();
        while (is_name("or")) {
            auto o = node(Expr::Kind::Or, next().line);
            o->args.push_back(std::move(e));
            o->args.push_back(parse_and());
            e = std::move(o);
        }
        return e;
    }

    ExprPtr parse_and() {
        ExprPtr e = parse_not();
        while (is_name("and")) {
            auto a = node(Expr::Kind::And, next().line);
            a->args.push_back(std::move(e));
            a->args.push_back(parse_not());
            e = std::move(a);
        }
        return e;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            auto n = node(Expr::Kind::Unary, next().line);
            n->name = "not";
            n->args.push_back(parse_not());
            return n;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        int line = cur().line;
        ExprPtr first = parse_math1();
        auto c = node(Expr::Kind::Compare, line);
        c->args.push_back(std::move(first));
        while (true) {
            if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                          cur().text == ">" || cur().text == "<=" || cur().text == ">=")) {
                c->ops.push_back(next().text);
            } else if (is_name("in")) {
                next();
                c->ops.push_back("in");
            } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
                next();
                next();
                c->ops.push_back("not in");
            } else {
                break;
            }
            c->args.push_back(parse_math1());
        }
        if (c->ops.empty()) return std::move(c->args[0]);
        return c;
    }

    ExprPtr binary(ExprPtr left, const std::string& op, ExprPtr right, int line) {
        auto b = node(Expr::Kind::Binary, line);
        b->name = op;
        b->args.push_back(std::move(left));
        b->args.push_back(std::move(right));
        return b;
    }

    ExprPtr parse_math1() {
        ExprPtr e = parse_concat();
        while (is_op("+") || is_op("-")) {
            const Token& op = next();
            e = binary(std::move(e), op.text, parse_concat(), op.line);
        }
        return e;
    }

    ExprPtr parse_concat() {
        ExprPtr e = parse_math2();
        while (is_op("~")) {
            const Token& op = next();
            e = binary(std::move(e), "~", parse_math2(), op.line);
        }
        return e;
    }

    ExprPtr parse_math2() {
        ExprPtr e = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token& op = next();
            e = binary(std::move(e), op.text, parse_pow(), op.line);
        }
        return e;
    }

    ExprPtr parse_pow() {
        ExprPtr e = parse_unary(true);
        while (is_op("**")) {
            const Token& op = next();
            e = binary(std::move(e), "**", parse_unary(true), op.line);
        }
        return e;
    }

    ExprPtr parse_unary(bool with_filter) {
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            const Token& op = next();
            e = node(Expr::Kind::Unary, op.line);
            e->name = op.text;
            e->args.push_back(parse_unary(false));
        } else {
            e = parse_primary();
        }
        e = parse_postfix(std::move(e));
        if (with_filter) e = parse_filter_expr(std::move(e));
        return e;
    }

    ExprPtr parse_primary() {
        const Token& t = cur();
        int line = t.line;
        if (t.type == Tok::Name) {
            next();
            auto e = node(Expr::Kind::Const, line);
            if (t.text == "true" || t.text == "True") {
                e->value = Value::boolean(true);
            } else if (t.text == "false" || t.text == "False") {
                e->value = Value::boolean(false);
            } else if (t.text == "none" || t.text == "None") {
                e->value = Value::none();
            } else {
                e->kind = Expr::Kind::Name;
                e->name = t.text;
            }
            return e;
        }
        if (t.type == Tok::String) {
            std::string s;
            while (cur().type == Tok::String) s += next().text;  // adjacent literals concatenate
            auto e = node(Expr::Kind::Const, line);
            e->value = Value::string(std::move(s));
            return e;
        }
        if (t.type == Tok::Int || t.type == Tok::Float) {
            next();
            auto e = node(Expr::Kind::Const, line);
            e->value = t.type == Tok::Int ? Value::integer(t.int_value) : Value::floating(t.float_value);
            return e;
        }
        if (is_op("(")) {
            next();
            if (skip_op(")")) {
                auto e = node(Expr::Kind::Tuple, line);
                return e;
            }
            ExprPtr e = parse_tuple(true, {});
            expect_op(")");
            return e;
        }
        if (is_op("[")) {
            next();
            auto e = node(Expr::Kind::List, line);
            while (!is_op("]")) {
                if (!e->args.empty()) expect_op(",");
                if (is_op("]")) break;
                e->args.push_back(parse_expression(true));
            }
            expect_op("]");
            return e;
        }
        if (is_op("{")) {
            next();
            auto e = node(Expr::Kind::Dict, line);
            while (!is_op("}")) {
                if (!e->pairs.empty()) expect_op(",");
                if (is_op("}")) break;
                ExprPtr k = parse_expression(true);
                expect_op(":");
                e->pairs.emplace_back(std::move(k), parse_expression(true));
            }
            expect_op("}");
            return e;
        }
        fail("unexpected " + describe(t));
    }

    ExprPtr parse_postfix(ExprPtr e) {
        while (true) {
            if (is_op(".") || is_op("[")) {
                e = parse_subscript(std::move(e));
            } else if (is_op("(")) {
                e = parse_call(std::move(e));
            } else {
                return e;
            }
        }
    }

    ExprPtr parse_filter_expr(ExprPtr e) {
        while (true) {
            if (is_op("|")) {
                next();
                e = filter_call(std::move(e));
            } else if (is_name("is")) {
                e = parse_test(std::move(e));
            } else if (is_op("(")) {
                e = parse_call(std::move(e));
            } else {
                return e;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr obj) {
        const Token& t = next();
        if (t.text == ".") {
            auto e = node(Expr::Kind::GetAttr, t.line);
            if (cur().type == Tok::Int) {
                // foo.0 is foo[0] in Jinja
                e->kind = Expr::Kind::GetItem;
                e->args.push_back(std::move(obj));
                auto idx = node(Expr::Kind::Const, cur().line);
                idx->value = Value::integer(next().int_value);
                e->args.push_back(std::move(idx));
                return e;
            }
            e->name = expect_name();
            e->args.push_back(std::move(obj));
            return e;
        }
        // "[": an index, a slice, or (jinja allows) a tuple index.
        std::vector<ExprPtr> parts;
        bool slice = false;
        ExprPtr part[3];
        int which = 0;
        while (!is_op("]")) {
            if (is_op(":")) {
                next();
                slice = true;
                if (++which > 2) fail("invalid slice");
                continue;
            }
            if (part[which]) fail("expected ']' got " + describe(cur()));
            part[which] = parse_expression(true);
        }
        next();
        auto e = node(slice ? Expr::Kind::Slice : Expr::Kind::GetItem, t.line);
        e->args.push_back(std::move(obj));
        if (slice) {
            for (auto& p : part) e->args.push_back(std::move(p));
        } else {
            if (!part[0]) fail("expected an index");
            e->args.push_back(std::move(part[0]));
        }
        return e;
    }

    void call_args(Expr& e) {
        expect_op("(");
        bool first = true;
        while (!is_op(")")) {
            if (!first) expect_op(",");
            first = false;
            if (is_op(")")) break;
            if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
                std::string key = next().text;
                next();
                e.kwargs.emplace_back(std::move(key), parse_expression(true));
            } else {
                if (!e.kwargs.empty()) fail("invalid syntax for function call expression");
                e.args.push_back(parse_expression(true));
            }
        }
        expect_op(")");
    }

    ExprPtr parse_call(ExprPtr callee) {
        auto e = node(Expr::Kind::Call, cur().line);
        e->args.push_back(std::move(callee));
        call_args(*e);
        return e;
    }

    // name(.name)* [(args)] after a '|'; `input` null for filter blocks.
    ExprPtr filter_call(ExprPtr input) {
        auto e = node(Expr::Kind::Filter, cur().line);
        e->name = expect_name();
        while (skip_op(".")) e->name += "." + expect_name();
        e->args.push_back(std::move(input));
        if (is_op("(")) call_args(*e);
        return e;
    }

    ExprPtr parse_test(ExprPtr subject) {
        int line = next().line;  // 'is'
        bool negated = skip_name("not");
        auto e = node(Expr::Kind::Test, line);
        e->name = expect_name();
        while (skip_op(".")) e->name += "." + expect_name();
        e->args.push_back(std::move(subject));
        if (is_op("(")) {
            call_args(*e);
        } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                    cur().type == Tok::Float || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
            if (is_name("is")) fail("You cannot chain multiple tests with is");
            e->args.push_back(parse_postfix(parse_primary()));
        }
        if (!negated) return e;
        auto n = node(Expr::Kind::Unary, line);
        n->name = "not";
        n->args.push_back(std::move(e));
        return n;
    }

    const std::vector<Token>& t_;
    const std::string& name_;
    size_t pos_ = 0;
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens, const std::string& name) {
    Body body = Parser(tokens, name).parse_all();
    check_names(body, name);
    return body;
}

}  // namespace lathe::chat
