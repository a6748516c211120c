// Python's binary operators on template values: + - * / // % ** and Jinja's ~.
#pragma once

#include <string>

#include "core/chat/value.h"

namespace lathe::chat {

// Throws EvalError with Python's TypeError/ZeroDivisionError text, UndefinedFailure on Undefined.
Value binary_op(const std::string& op, const Value& a, const Value& b);
Value unary_op(const std::string& op, const Value& a);
// Python's printf-style `fmt % args` (the % operator on a str, and the `format` filter).
std::string percent_format(const std::string& fmt, const Value& args);

}  // namespace lathe::chat
