// What a model folder's tokenizer is made of: tokenizer.json (the Rust `tokenizers` format) or, for
// models that ship none, a SentencePiece tokenizer.model. TextTokenizer holds one of these.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace lathe {

class TokenizerBackend {
public:
    virtual ~TokenizerBackend() = default;
    virtual Encoding encode(std::string_view text, bool add_special_tokens) const = 0;
    virtual std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens, int threads) const = 0;
    virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const = 0;
    virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
    virtual std::optional<std::string> id_to_token(int64_t id) const = 0;
    virtual int64_t vocab_size() const = 0;
    virtual std::string source() const = 0;  // the file it was read from
};

std::unique_ptr<TokenizerBackend> make_json_backend(const std::string& tokenizer_json);
std::unique_ptr<TokenizerBackend> make_sentencepiece_backend(const std::string& tokenizer_model);

}  // namespace lathe
