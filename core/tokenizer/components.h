// The interfaces of the pipeline stages (normalizer, pre-tokenizer, model, post-processor, decoder)
// and the data passed between them. Each family lives in its own file with its JSON reader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/json_util.h"
#include "core/util/error.h"
#include "core/tokenizer/normalized_string.h"
#include "core/tokenizer/tokenizer.h"

namespace lathe::tok {

// A model's output token: its id and the byte range it covers in the piece's normalized text.
struct Token {
    int64_t id;
    size_t begin, end;
};

// A piece of the input on its way through the pipeline; an added token's piece arrives tokenized.
struct Split {
    NormalizedString text;
    std::vector<Token> tokens;
    bool tokenized = false;
};

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void normalize(NormalizedString& s) const = 0;
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Splits (or transforms) every piece that is not yet tokenized.
    virtual void pre_tokenize(std::vector<Split>& splits) const = 0;
};

class Model {
public:
    virtual ~Model() = default;
    // Appends the tokens of one pre-tokenized piece (offsets relative to `text`).
    virtual void tokenize(std::string_view text, std::vector<Token>& out) const = 0;
    virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
    virtual const std::string* id_to_token(int64_t id) const = 0;
    virtual int64_t vocab_size() const = 0;
};

// Looks up a token's string by id (added tokens first, then the model), for post-processors.
class TokenLookup {
public:
    virtual ~TokenLookup() = default;
    virtual const std::string* token(int64_t id) const = 0;
};

class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    // `values` holds each token's string as the Rust Encoding has it (the vocabulary string, or for
    // an added token the text it matched); processors that add tokens keep it in step. `text` is the
    // input the offsets point into (the Rust library trims offsets in characters).
    virtual void process(Encoding& enc, std::vector<const std::string*>& values, bool add_special_tokens,
                         const TokenLookup& lookup, std::string_view text) const = 0;
};

class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// JSON readers, one per family; `where` is the component's path ("normalizer.normalizers[2]").
std::unique_ptr<Normalizer> parse_normalizer(const json& j, const std::string& where);
std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const json& j, const std::string& where);
std::unique_ptr<Model> parse_model(const json& j, const std::string& where);
std::unique_ptr<PostProcessor> parse_post_processor(const json& j, const std::string& where);
std::unique_ptr<Decoder> parse_decoder(const json& j, const std::string& where);

// Reads a {"String": ...} / {"Regex": ...} pattern object.
Pattern parse_pattern(const json& j, const std::string& where);

// Runs fn(piece, out) on each untokenized split and replaces it by the non-empty pieces of `out`.
template <typename Fn>
void split_each(std::vector<Split>& splits, Fn&& fn) {
    std::vector<Split> result;
    result.reserve(splits.size() * 2);
    std::vector<NormalizedString> pieces;
    for (auto& s : splits) {
        if (s.tokenized) {
            result.push_back(std::move(s));
            continue;
        }
        pieces.clear();
        fn(s.text, pieces);
        for (auto& p : pieces)
            if (!p.empty()) result.push_back(Split{std::move(p), {}, false});
    }
    splits = std::move(result);
}

}  // namespace lathe::tok
