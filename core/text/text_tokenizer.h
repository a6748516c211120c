// A model folder's complete text interface, as transformers' AutoTokenizer gives it: tokenizer.json
// (or a SentencePiece tokenizer.model), tokenizer_config.json's special tokens and BOS/EOS rules, and
// the chat template. Torch-free.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/chat/chat_template.h"
#include "core/text/tokenizer_backend.h"
#include "core/text/tokenizer_config.h"

namespace lathe {

struct ChatOptions {
    bool add_generation_prompt = false;
    // A list of tool schemas; absent leaves `tools` undefined in the template (see
    // tests/fixtures/chat_templates/README.md for why not None).
    std::optional<nlohmann::ordered_json> tools = std::nullopt;
    // More variables for the template, e.g. {"enable_thinking": false}.
    nlohmann::ordered_json extra_variables = nlohmann::ordered_json::object();
    std::string template_name = "default";
    RenderOptions render = {};
};

class TextTokenizer {
public:
    // DIR holds tokenizer.json or tokenizer.model, and usually tokenizer_config.json.
    static TextTokenizer load(const std::string& dir);
    static bool exists_in(const std::string& dir);

    Encoding encode(std::string_view text, bool add_special_tokens = true) const;
    std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = true, int threads = 0) const;
    std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;

    const TokenizerConfig& config() const { return config_; }
    const TokenizerBackend& backend() const { return *backend_; }
    std::optional<int64_t> bos_id() const { return bos_id_; }
    std::optional<int64_t> eos_id() const { return eos_id_; }
    std::optional<int64_t> pad_id() const { return pad_id_; }

    bool has_chat_template(const std::string& name = "default") const { return config_.chat_templates.count(name) > 0; }
    // The prompt text, exactly as transformers' apply_chat_template(tokenize=False) renders it.
    // Throws TemplateRaised / TemplateError (what the template said, or where it failed).
    std::string apply_chat_template(const nlohmann::ordered_json& messages, const ChatOptions& options = {}) const;

private:
    void add_special_tokens(Encoding& e) const;  // BOS/EOS when the config, not the backend, decides

    std::unique_ptr<TokenizerBackend> backend_;
    TokenizerConfig config_;
    std::optional<int64_t> bos_id_, eos_id_, pad_id_;
    bool add_bos_ = false, add_eos_ = false;  // added by us rather than the backend's post-processor
    bool override_specials_ = false;
    // Parsed templates, by name; parsing is cached because datasets render a template per row.
    struct TemplateCache {
        std::mutex mutex;
        std::map<std::string, std::shared_ptr<const ChatTemplate>> parsed;
    };
    std::unique_ptr<TemplateCache> templates_ = std::make_unique<TemplateCache>();
};

}  // namespace lathe
