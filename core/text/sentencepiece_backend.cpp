// SentencePiece's own library reads tokenizer.model: the same code that made the ids the model was
// trained on.
#include <sentencepiece_processor.h>

#include <algorithm>
#include <thread>

#include "core/text/tokenizer_backend.h"
#include "core/util/error.h"

namespace lathe {

namespace {

class SentencePieceBackend : public TokenizerBackend {
public:
    explicit SentencePieceBackend(const std::string& path) : path_(path) {
        auto status = processor_.Load(path);
        if (!status.ok()) throw Error(path + ": not a SentencePiece model: " + status.ToString());
    }

    // SentencePiece itself adds no special tokens; TextTokenizer adds BOS/EOS as the config says.
    Encoding encode(std::string_view text, bool /*add_special_tokens*/) const override {
        auto proto = processor_.EncodeAsImmutableProto(std::string(text));
        Encoding e;
        for (const auto& piece : proto.pieces()) {
            e.ids.push_back(piece.id());
            e.offsets.emplace_back(piece.begin(), piece.end());
            e.special_tokens_mask.push_back(0);
        }
        return e;
    }
    std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens, int threads) const override {
        std::vector<Encoding> out(texts.size());
        int n = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
        std::vector<std::thread> workers;
        for (int w = 0; w < n; ++w)
            workers.emplace_back([&, w] {
                for (size_t i = w; i < texts.size(); i += n) out[i] = encode(texts[i], add_special_tokens);
            });
        for (auto& t : workers) t.join();
        return out;
    }
    std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const override {
        std::vector<int> kept;
        for (int64_t id : ids) {
            if (id < 0 || id >= processor_.GetPieceSize()) throw Error(path_ + ": token id " + std::to_string(id) + " is outside the vocabulary");
            if (skip_special_tokens && processor_.IsControl(static_cast<int>(id))) continue;
            kept.push_back(static_cast<int>(id));
        }
        std::string text;
        auto status = processor_.Decode(kept, &text);
        if (!status.ok()) throw Error(path_ + ": decode failed: " + status.ToString());
        return text;
    }
    std::optional<int64_t> token_to_id(std::string_view token) const override {
        int id = processor_.PieceToId(std::string(token));
        if (processor_.IsUnknown(id) && processor_.IdToPiece(id) != token) return std::nullopt;
        return id;
    }
    std::optional<std::string> id_to_token(int64_t id) const override {
        if (id < 0 || id >= processor_.GetPieceSize()) return std::nullopt;
        return processor_.IdToPiece(static_cast<int>(id));
    }
    int64_t vocab_size() const override { return processor_.GetPieceSize(); }
    std::string source() const override { return path_; }

private:
    std::string path_;
    sentencepiece::SentencePieceProcessor processor_;
};

}  // namespace

std::unique_ptr<TokenizerBackend> make_sentencepiece_backend(const std::string& tokenizer_model) {
    return std::make_unique<SentencePieceBackend>(tokenizer_model);
}

}  // namespace lathe
