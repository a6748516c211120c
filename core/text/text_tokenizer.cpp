#include "core/text/text_tokenizer.h"

#include <filesystem>

#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;

bool TextTokenizer::exists_in(const std::string& dir) {
    return fs::exists(fs::path(dir) / "tokenizer.json") || fs::exists(fs::path(dir) / "tokenizer.model");
}

TextTokenizer TextTokenizer::load(const std::string& dir) {
    TextTokenizer t;
    fs::path json = fs::path(dir) / "tokenizer.json", model = fs::path(dir) / "tokenizer.model";
    bool sentencepiece = false;
    if (fs::exists(json)) {
        t.backend_ = make_json_backend(json.string());
    } else if (fs::exists(model)) {
        t.backend_ = make_sentencepiece_backend(model.string());
        sentencepiece = true;
    } else {
        throw Error(dir + ": no tokenizer.json or tokenizer.model");
    }
    t.config_ = read_tokenizer_config(dir);

    auto id_of = [&](const std::optional<std::string>& token, const char* key) -> std::optional<int64_t> {
        if (!token) return std::nullopt;
        auto id = t.backend_->token_to_id(*token);
        if (!id) throw Error(dir + "/tokenizer_config.json: " + key + " '" + *token + "' is not in the vocabulary of " + t.backend_->source());
        return id;
    };
    t.bos_id_ = id_of(t.config_.bos_token, "bos_token");
    t.eos_id_ = id_of(t.config_.eos_token, "eos_token");
    t.pad_id_ = id_of(t.config_.pad_token, "pad_token");

    // SentencePiece has no post-processor: BOS/EOS come from the config, with LlamaTokenizer's
    // defaults (BOS on, EOS off). A tokenizer.json keeps its post-processor unless the config says
    // add_bos_token/add_eos_token, which transformers then applies instead.
    if (sentencepiece) {
        t.override_specials_ = true;
        t.add_bos_ = t.config_.add_bos_token.value_or(true);
        t.add_eos_ = t.config_.add_eos_token.value_or(false);
    } else if (t.config_.add_bos_token || t.config_.add_eos_token) {
        t.override_specials_ = true;
        t.add_bos_ = t.config_.add_bos_token.value_or(false);
        t.add_eos_ = t.config_.add_eos_token.value_or(false);
    }
    if (t.add_bos_ && !t.bos_id_) throw Error(dir + "/tokenizer_config.json: add_bos_token is set but there is no bos_token");
    if (t.add_eos_ && !t.eos_id_) throw Error(dir + "/tokenizer_config.json: add_eos_token is set but there is no eos_token");
    return t;
}

void TextTokenizer::add_special_tokens(Encoding& e) const {
    if (add_bos_) {
        e.ids.insert(e.ids.begin(), *bos_id_);
        e.offsets.insert(e.offsets.begin(), {0, 0});
        e.special_tokens_mask.insert(e.special_tokens_mask.begin(), 1);
    }
    if (add_eos_) {
        e.ids.push_back(*eos_id_);
        e.offsets.emplace_back(0, 0);
        e.special_tokens_mask.push_back(1);
    }
}

Encoding TextTokenizer::encode(std::string_view text, bool add_special_tokens) const {
    if (!override_specials_) return backend_->encode(text, add_special_tokens);
    Encoding e = backend_->encode(text, false);
    if (add_special_tokens) this->add_special_tokens(e);
    return e;
}

std::vector<Encoding> TextTokenizer::encode_batch(const std::vector<std::string>& texts, bool add_special_tokens, int threads) const {
    if (!override_specials_) return backend_->encode_batch(texts, add_special_tokens, threads);
    std::vector<Encoding> out = backend_->encode_batch(texts, false, threads);
    if (add_special_tokens)
        for (Encoding& e : out) this->add_special_tokens(e);
    return out;
}

std::string TextTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
    return backend_->decode(ids, skip_special_tokens);
}

std::string TextTokenizer::apply_chat_template(const nlohmann::ordered_json& messages, const ChatOptions& options) const {
    auto source = config_.chat_templates.find(options.template_name);
    if (source == config_.chat_templates.end()) {
        std::string names;
        for (const auto& [name, _] : config_.chat_templates) names += (names.empty() ? "" : ", ") + name;
        throw Error(config_.dir + ": no chat template" + (options.template_name == "default" ? std::string() : " named '" + options.template_name + "'") +
                    (names.empty() ? " (the tokenizer_config.json has no chat_template and there is no chat_template.jinja)" : " (it has: " + names + ")"));
    }
    if (!messages.is_array()) throw Error("messages must be a list of {\"role\", \"content\"} objects");

    std::shared_ptr<const ChatTemplate> tmpl;
    {
        std::lock_guard<std::mutex> lock(templates_->mutex);
        auto& slot = templates_->parsed[options.template_name];
        if (!slot) slot = std::make_shared<const ChatTemplate>(ChatTemplate::parse(source->second, config_.chat_template_source));
        tmpl = slot;
    }

    // The variables transformers passes: the chat, the flags, the special-token strings.
    nlohmann::ordered_json vars = nlohmann::ordered_json::object();
    vars["messages"] = messages;
    if (options.tools) vars["tools"] = *options.tools;
    vars["add_generation_prompt"] = options.add_generation_prompt;
    const std::pair<const char*, const std::optional<std::string>*> tokens[] = {
        {"bos_token", &config_.bos_token}, {"eos_token", &config_.eos_token}, {"pad_token", &config_.pad_token},
        {"unk_token", &config_.unk_token}, {"sep_token", &config_.sep_token}, {"cls_token", &config_.cls_token},
        {"mask_token", &config_.mask_token},
    };
    for (const auto& [name, value] : tokens)
        if (*value) vars[name] = **value;
    for (auto it = options.extra_variables.begin(); it != options.extra_variables.end(); ++it) vars[it.key()] = it.value();
    return tmpl->render(vars, options.render);
}

}  // namespace lathe
