#include "core/text/tokenizer_backend.h"

namespace lathe {

namespace {

class JsonBackend : public TokenizerBackend {
public:
    explicit JsonBackend(const std::string& path) : path_(path), tokenizer_(Tokenizer::from_file(path)) {}
    Encoding encode(std::string_view text, bool add_special_tokens) const override { return tokenizer_.encode(text, add_special_tokens); }
    std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens, int threads) const override {
        return tokenizer_.encode_batch(texts, add_special_tokens, threads);
    }
    std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const override {
        return tokenizer_.decode(ids, skip_special_tokens);
    }
    std::optional<int64_t> token_to_id(std::string_view token) const override { return tokenizer_.token_to_id(token); }
    std::optional<std::string> id_to_token(int64_t id) const override { return tokenizer_.id_to_token(id); }
    int64_t vocab_size() const override { return tokenizer_.vocab_size(); }
    std::string source() const override { return path_; }

private:
    std::string path_;
    Tokenizer tokenizer_;
};

}  // namespace

std::unique_ptr<TokenizerBackend> make_json_backend(const std::string& tokenizer_json) {
    return std::make_unique<JsonBackend>(tokenizer_json);
}

}  // namespace lathe
