// A Hugging Face `tokenizer.json` (the format of the Rust `tokenizers` library), producing exactly the
// ids, offsets and decoded text that library produces. Torch-free.
//
// Pipeline, as in the Rust library: added tokens are split out first; the rest goes through the
// normalizer, the pre-tokenizer, the model (BPE, WordPiece, Unigram), then the post-processor adds
// special tokens. Decoding runs the decoder chain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lathe {

struct Encoding {
    std::vector<int64_t> ids;
    // Byte offsets [begin, end) of each token in the original input text (UTF-8). Special tokens added
    // by the post-processor get {0, 0}, as in the Rust library.
    std::vector<std::pair<size_t, size_t>> offsets;
    // 1 for tokens the post-processor added (e.g. [CLS]), 0 otherwise.
    std::vector<uint8_t> special_tokens_mask;
};

struct AddedTokenInfo {
    int64_t id = 0;
    std::string content;
    bool special = false;
    bool lstrip = false, rstrip = false, normalized = false, single_word = false;
};

class Tokenizer {
public:
    // Reads tokenizer.json. Errors (lathe::Error) name the file and the component, e.g.
    // "tokenizer.json: model.merges[17]: names unknown token 'xy'".
    static Tokenizer from_file(const std::string& path);
    static Tokenizer from_json(const nlohmann::json& root, const std::string& where);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // Text that is not valid UTF-8 is read as Python callers of the Rust library hand it over: each
    // maximal invalid subsequence becomes U+FFFD (bytes.decode("utf-8", "replace")). Offsets still
    // point into the bytes given here; a token for such a U+FFFD covers the bytes it replaced.
    // tokenizer.json's "truncation" and "padding" are ignored (callers truncate and pad).
    Encoding encode(std::string_view text, bool add_special_tokens = true) const;
    // Encodes many texts on `threads` threads (0 = all cores); results in input order.
    std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = true,
                                       int threads = 0) const;
    // Unknown ids are skipped. Byte-level or byte-fallback pieces that do not form valid UTF-8 come
    // out lossily (U+FFFD), as Rust's String::from_utf8_lossy.
    std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;

    std::optional<int64_t> token_to_id(std::string_view token) const;
    std::optional<std::string> id_to_token(int64_t id) const;
    int64_t vocab_size() const;  // the model's vocabulary plus added tokens
    const std::vector<AddedTokenInfo>& added_tokens() const;

private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lathe
