#include "core/chat/chat_template.h"

#include "core/chat/ast.h"
#include "core/chat/lexer.h"
#include "core/chat/parser.h"
#include "core/chat/renderer.h"

namespace lathe {

struct ChatTemplate::Impl {
    std::string name;
    chat::Body body;
};

ChatTemplate::ChatTemplate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

ChatTemplate ChatTemplate::parse(const std::string& source, const std::string& name) {
    return parse(source, name, TemplateSyntax{});
}

ChatTemplate ChatTemplate::parse(const std::string& source, const std::string& name, const TemplateSyntax& syntax) {
    auto impl = std::make_unique<Impl>();
    impl->name = name;
    chat::LexOptions lex{.trim_blocks = syntax.trim_blocks, .lstrip_blocks = syntax.lstrip_blocks,
                         .keep_trailing_newline = syntax.keep_trailing_newline};
    impl->body = chat::parse_template(chat::lex(source, name, lex), name);
    return ChatTemplate(std::move(impl));
}

std::string ChatTemplate::render(const nlohmann::ordered_json& variables, const RenderOptions& options) const {
    return chat::render_template(impl_->body, impl_->name, variables, options);
}

}  // namespace lathe
