// tokenizer_config.json (and chat_template.jinja beside it) as transformers reads them: the special
// tokens, whether BOS/EOS are added, the length limit and the chat templates. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace lathe {

struct TokenizerConfig {
    std::string dir;
    std::string tokenizer_class;
    // Special-token strings; an AddedToken object ({"content": ...}) is read as its content.
    std::optional<std::string> bos_token, eos_token, pad_token, unk_token, sep_token, cls_token, mask_token;
    // Set only when the file says so: they then override what tokenizer.json's post-processor does,
    // as transformers' update_post_processor() does for Llama-style tokenizers.
    std::optional<bool> add_bos_token, add_eos_token;
    std::optional<int64_t> model_max_length;  // absent, or transformers' "no limit" sentinel (1e30)
    // Chat templates by name; a single template is "default". chat_template.jinja beside the config
    // takes precedence over the config's "default", as in transformers.
    std::map<std::string, std::string> chat_templates;
    std::string chat_template_source;  // the file the default template came from, for error messages
};

// Reads DIR/tokenizer_config.json when present (an empty config otherwise) and DIR/chat_template.jinja.
// Errors name the file and the key.
TokenizerConfig read_tokenizer_config(const std::string& dir);

}  // namespace lathe
