// The parsed template: expression and statement nodes, built once by the parser and walked by the
// renderer for every render. One generic node per category keeps the tree small to write and read;
// `kind` says which fields are used.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/chat/value.h"

namespace lathe::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        Const,     // value
        Name,      // name
        GetAttr,   // args[0].name
        GetItem,   // args[0][args[1]]
        Slice,     // args[0][args[1]:args[2]:args[3]] (null parts omitted)
        Call,      // args[0](args[1:], kwargs)
        Filter,    // args[0] | name(args[1:], kwargs); args[0] null inside {% filter %} / set blocks
        Test,      // args[0] is name(args[1:], kwargs)
        Unary,     // name in {"-", "+", "not"}: name args[0]
        Binary,    // args[0] name args[1]; name in + - * / // % ** ~
        And,
        Or,
        Compare,   // args[0] ops[0] args[1] ops[1] args[2] ... (chained like Python)
        CondExpr,  // args[1] if args[0] else args[2] (args[2] null: undefined)
        List,
        Tuple,
        Dict,      // pairs
    };
    Kind kind;
    int line = 0;
    Value value;
    std::string name;
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<std::pair<ExprPtr, ExprPtr>> pairs;
    std::vector<std::string> ops;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// What {% set %} and {% for %} assign to: one name, a tuple of names, or namespace.attr.
struct Target {
    std::vector<std::string> names;  // one name, or several for unpacking
    bool unpack = false;             // "a, b" even when only one name was written ("a,")
    std::string attr;                // non-empty: names[0].attr (namespace attribute)
};

struct Stmt {
    enum class Kind {
        Text,         // text
        Print,        // expr
        If,           // branches (condition, body), else_body
        For,          // target in expr [if cond]: body, else_body
        Set,          // target = expr
        SetBlock,     // target = rendered body, then filters
        Macro,        // name(params): body
        CallBlock,    // expr (a call) with caller(params) = body
        FilterBlock,  // body rendered then passed through filters
        With,         // assigns, body
        Break,
        Continue,
        Scope,        // body inline ({% generation %}, {% block %})
    };
    Kind kind;
    int line = 0;
    std::string text;
    ExprPtr expr;
    ExprPtr cond;
    Target target;
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body body;
    Body else_body;
    std::string name;
    std::vector<std::pair<std::string, ExprPtr>> params;  // macro/caller parameters (default may be null)
    std::vector<ExprPtr> filters;                         // Filter nodes with a null input
    std::vector<std::pair<Target, ExprPtr>> assigns;      // {% with %}
};

}  // namespace lathe::chat
