// Turns lexer tokens into the AST, following jinja2's parser (precedence, where filters and tests
// bind, which statements exist). Throws TemplateError("NAME:LINE: ...") on a syntax error.
#pragma once

#include <string>
#include <vector>

#include "core/chat/ast.h"
#include "core/chat/lexer.h"

namespace lathe::chat {

Body parse_template(const std::vector<Token>& tokens, const std::string& name);

// jinja2's compile-time check that every filter and test exists. Like jinja2, names used inside
// an `if` statement or an inline if-expression are left to fail only if reached at render time
// (so `{% if 'x' is filter %}{{ v | x }}{% endif %}` works); a loop or macro body starts afresh.
// Also rejects {% break %} / {% continue %} outside a loop, as jinja2's compiled Python does.
void check_names(const Body& body, const std::string& name);

}  // namespace lathe::chat
