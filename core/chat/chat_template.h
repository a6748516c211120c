// Jinja chat templates as transformers renders them (apply_chat_template): the template language
// subset real models' templates use, with transformers' environment — trim_blocks, lstrip_blocks,
// loop controls, a no-op {% generation %} block, transformers' tojson, raise_exception and
// strftime_now. Torch-free.
#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/util/error.h"

namespace lathe {

// The template called raise_exception(message): what() is exactly the template's message.
class TemplateRaised : public Error {
public:
    explicit TemplateRaised(const std::string& message) : Error(message) {}
};

// Any other failure while parsing or rendering (syntax error, type error, undefined variable):
// what() names the template and the line.
class TemplateError : public Error {
public:
    explicit TemplateError(const std::string& message) : Error(message) {}
};

struct RenderOptions {
    // The clock strftime_now reads; defaults to the system clock. Tests pin it.
    std::function<std::time_t()> now;
    // jinja2's StrictUndefined: printing an undefined value fails instead of printing nothing
    // (lm-evaluation-harness renders its task templates so).
    bool strict_undefined = false;
};

// Whitespace handling of the jinja2 Environment. The defaults are transformers' chat-template settings;
// a plain jinja2.Environment() has all three false (lm-evaluation-harness sets keep_trailing_newline).
struct TemplateSyntax {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
    bool keep_trailing_newline = false;
};

class ChatTemplate {
public:
    // Parses the template once; `name` is used in error messages (e.g. the file it came from).
    // Throws TemplateError with the line number on a syntax error.
    static ChatTemplate parse(const std::string& source, const std::string& name = "chat template");
    static ChatTemplate parse(const std::string& source, const std::string& name, const TemplateSyntax& syntax);

    ChatTemplate(ChatTemplate&&) noexcept;
    ChatTemplate& operator=(ChatTemplate&&) noexcept;
    ~ChatTemplate();

    // `variables` is an object: messages, add_generation_prompt, tools, bos_token, ... Object key
    // order is kept (tojson prints keys in the order given).
    std::string render(const nlohmann::ordered_json& variables, const RenderOptions& options = {}) const;

private:
    struct Impl;
    explicit ChatTemplate(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lathe
