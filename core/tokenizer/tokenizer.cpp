// Tokenizer assembly: reads tokenizer.json into the pipeline stages and runs them in the Rust
// library's order (added tokens, normalizer, pre-tokenizer, model, post-processor; decoder chain).
#include "core/tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "core/tokenizer/added_vocabulary.h"
#include "core/tokenizer/components.h"
#include "core/tokenizer/unicode.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

using namespace tok;

struct Tokenizer::Impl : public TokenLookup {
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    std::unique_ptr<Model> model;
    std::unique_ptr<PostProcessor> post_processor;
    std::unique_ptr<Decoder> decoder;
    AddedVocabulary added;

    const std::string* token(int64_t id) const override {
        const std::string* t = added.id_to_token(id);
        return t ? t : model->id_to_token(id);
    }

    Encoding encode(std::string_view input, bool add_special_tokens) const;
};

Encoding Tokenizer::Impl::encode(std::string_view input, bool add_special_tokens) const {
    // The Rust library takes &str: callers (Python, transformers) first replace invalid UTF-8 with
    // U+FFFD. We do the same here, then map offsets back onto the caller's bytes.
    std::string fixed;
    std::vector<size_t> to_input;
    bool valid = sanitize_utf8(input, fixed, &to_input);
    std::string_view text = valid ? input : std::string_view(fixed);

    std::vector<Split> splits;
    added.extract_and_normalize(text, normalizer.get(), splits);
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(splits);

    Encoding enc;
    std::vector<const std::string*> values;  // token strings, for post-processors
    std::vector<Token> tokens;
    for (auto& s : splits) {
        tokens.clear();
        const std::vector<Token>* list = &s.tokens;
        if (!s.tokenized) {
            model->tokenize(s.text.get(), tokens);
            list = &tokens;
        }
        for (const Token& t : *list) {
            values.push_back(s.tokenized ? &s.text.get() : model->id_to_token(t.id));
            enc.ids.push_back(t.id);
            enc.offsets.push_back(s.text.original_range(t.begin, t.end));
            enc.special_tokens_mask.push_back(0);
        }
    }
    if (post_processor) post_processor->process(enc, values, add_special_tokens, *this, text);
    if (!valid) {
        for (auto& [b, e] : enc.offsets) {
            b = to_input[std::min(b, to_input.size() - 1)];
            e = to_input[std::min(e, to_input.size() - 1)];
        }
    }
    return enc;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_file(const std::string& path) {
    return from_json(read_json_file(path), path);
}

Tokenizer Tokenizer::from_json(const nlohmann::json& root, const std::string& where) {
    auto impl = std::make_unique<Impl>();
    try {
        if (!root.is_object()) fail("top level", "expected a JSON object");
        // truncation and padding are ignored: Lathe's data pipeline truncates and pads itself.
        if (const json* n = member(root, "normalizer")) impl->normalizer = parse_normalizer(*n, "normalizer");
        if (const json* p = member(root, "pre_tokenizer")) impl->pre_tokenizer = parse_pre_tokenizer(*p, "pre_tokenizer");
        impl->model = parse_model(required(root, "model", ""), "model");
        if (const json* p = member(root, "post_processor")) impl->post_processor = parse_post_processor(*p, "post_processor");
        if (const json* d = member(root, "decoder")) impl->decoder = parse_decoder(*d, "decoder");
        if (const json* list = member(root, "added_tokens")) {
            if (!list->is_array()) fail("added_tokens", "expected a list");
            for (size_t i = 0; i < list->size(); ++i) {
                std::string w = "added_tokens[" + std::to_string(i) + "]";
                const json& t = (*list)[i];
                required_object(t, w);
                AddedTokenInfo info;
                info.content = get_string(t, "content", w);
                const json& id = required(t, "id", w);
                if (!id.is_number_integer()) fail(w + ".id", "expected an integer");
                info.id = id.get<int64_t>();
                info.special = get_bool_or(t, "special", w, false);
                info.lstrip = get_bool_or(t, "lstrip", w, false);
                info.rstrip = get_bool_or(t, "rstrip", w, false);
                info.normalized = get_bool_or(t, "normalized", w, !info.special);
                info.single_word = get_bool_or(t, "single_word", w, false);
                impl->added.add(info);
            }
        }
        impl->added.build(impl->normalizer.get());
    } catch (const Error& e) {
        throw e.within(where);
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + ": " + e.what());
    }
    return Tokenizer(std::move(impl));
}

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
    return impl_->encode(text, add_special_tokens);
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool add_special_tokens,
                                              int threads) const {
    std::vector<Encoding> out(texts.size());
    size_t n = threads > 0 ? static_cast<size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
    n = std::min(n, texts.size());
    if (n <= 1) {
        for (size_t i = 0; i < texts.size(); ++i) out[i] = encode(texts[i], add_special_tokens);
        return out;
    }
    // Texts are handed out one at a time so long and short texts balance across threads.
    std::atomic<size_t> next{0};
    std::exception_ptr error;
    std::atomic<bool> failed{false};
    auto work = [&] {
        try {
            for (size_t i; !failed && (i = next.fetch_add(1)) < texts.size();) out[i] = encode(texts[i], add_special_tokens);
        } catch (...) {
            if (!failed.exchange(true)) error = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    for (size_t t = 0; t + 1 < n; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
    return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int64_t id : ids) {
        const std::string* t = impl_->token(id);
        if (!t) continue;  // unknown ids are skipped, as in Rust
        if (skip_special_tokens && impl_->added.is_special(*t)) continue;
        tokens.push_back(*t);
    }
    if (!impl_->decoder) {
        std::string out;
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i) out.push_back(' ');
            out += tokens[i];
        }
        return out;
    }
    impl_->decoder->decode_chain(tokens);
    std::string out;
    for (const auto& t : tokens) out += t;
    return out;
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const {
    if (auto id = impl_->added.token_to_id(token)) return id;
    return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int64_t id) const {
    const std::string* t = impl_->token(id);
    return t ? std::optional<std::string>(*t) : std::nullopt;
}

int64_t Tokenizer::vocab_size() const {
    int64_t n = impl_->model->vocab_size();
    for (const auto& t : impl_->added.tokens())
        if (!impl_->model->token_to_id(t.content)) ++n;
    return n;
}

const std::vector<AddedTokenInfo>& Tokenizer::added_tokens() const { return impl_->added.tokens(); }

}  // namespace lathe
