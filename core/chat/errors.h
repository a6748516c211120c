// How engine failures become the public exception: "NAME:LINE: message".
#pragma once

#include <string>

#include "core/chat/chat_template.h"

namespace lathe::chat {

inline TemplateError template_error(const std::string& name, int line, const std::string& message) {
    return TemplateError(name + ":" + std::to_string(line) + ": " + message);
}

}  // namespace lathe::chat
