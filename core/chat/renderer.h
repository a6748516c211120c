// Walks the parsed template and writes the output: statements, scoping (a `for` iteration and a
// macro call get their own scope; `if` does not), loop controls, macros, and the globals
// transformers provides (raise_exception, strftime_now) beside Jinja's (range, namespace, dict).
#pragma once

#include <string>

#include "core/chat/ast.h"
#include "core/chat/chat_template.h"

namespace lathe::chat {

std::string render_template(const Body& body, const std::string& name, const nlohmann::ordered_json& variables,
                            const RenderOptions& options);

}  // namespace lathe::chat
