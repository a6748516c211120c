// Walks the parsed template the way jinja2's compiler walks frames, to report unknown filters and
// tests at parse time exactly where jinja2 does (see parser.h).
#include "core/chat/builtins.h"
#include "core/chat/errors.h"
#include "core/chat/parser.h"

namespace lathe::chat {
namespace {

class NameCheck {
public:
    explicit NameCheck(const std::string& name) : name_(name) {}

    // soft: inside an if (unknown names wait for render time); loop: break/continue allowed.
    void body(const Body& b, bool soft, bool loop) {
        for (const auto& s : b) stmt(*s, soft, loop);
    }

private:
    void stmt(const Stmt& s, bool soft, bool loop) {
        switch (s.kind) {
            case Stmt::Kind::If:
                // jinja2's visit_If compiles the tests and every branch in a "soft" frame.
                for (const auto& [cond, branch] : s.branches) {
                    expr(cond.get(), true);
                    body(branch, true, loop);
                }
                body(s.else_body, true, loop);
                return;
            case Stmt::Kind::For:
                expr(s.expr.get(), soft);
                expr(s.cond.get(), false);
                body(s.body, false, true);
                body(s.else_body, false, loop);  // compiled after the loop: not inside it
                return;
            case Stmt::Kind::Print:
            case Stmt::Kind::Set: expr(s.expr.get(), soft); return;
            case Stmt::Kind::SetBlock:
            case Stmt::Kind::FilterBlock:
                for (const auto& f : s.filters) expr(f.get(), soft);
                body(s.body, false, loop);
                return;
            case Stmt::Kind::CallBlock:
                expr(s.expr.get(), soft);
                [[fallthrough]];
            case Stmt::Kind::Macro:
                // A macro body is a function of its own: a loop around it does not count.
                for (const auto& p : s.params) expr(p.second.get(), false);
                body(s.body, false, false);
                return;
            case Stmt::Kind::With:
                for (const auto& a : s.assigns) expr(a.second.get(), soft);
                body(s.body, false, loop);
                return;
            case Stmt::Kind::Scope: body(s.body, false, loop); return;
            case Stmt::Kind::Break:
            case Stmt::Kind::Continue:
                if (!loop)
                    throw template_error(name_, s.line, std::string(s.kind == Stmt::Kind::Break ? "'break'" : "'continue'") + " outside loop");
                return;
            default: return;
        }
    }

    void expr(const Expr* e, bool soft) {
        if (!e) return;
        if (e->kind == Expr::Kind::CondExpr) soft = true;
        if (!soft && e->kind == Expr::Kind::Filter && !has_filter(e->name))
            throw template_error(name_, e->line, "No filter named '" + e->name + "'.");
        if (!soft && e->kind == Expr::Kind::Test && !has_test(e->name))
            throw template_error(name_, e->line, "No test named '" + e->name + "'.");
        for (const auto& a : e->args) expr(a.get(), soft);
        for (const auto& kw : e->kwargs) expr(kw.second.get(), soft);
        for (const auto& [k, v] : e->pairs) {
            expr(k.get(), soft);
            expr(v.get(), soft);
        }
    }

    const std::string& name_;
};

}  // namespace

void check_names(const Body& body, const std::string& name) { NameCheck(name).body(body, false, false); }

}  // namespace lathe::chat
