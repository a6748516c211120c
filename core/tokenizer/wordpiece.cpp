// WordPiece (Rust tokenizers/src/models/wordpiece) and WordLevel: greedy longest-match-first over
// the vocabulary; a word that cannot be covered becomes one unk token.
#include <memory>
#include <string>

#include "core/tokenizer/components.h"
#include "core/tokenizer/unicode.h"
#include "core/tokenizer/vocab.h"

namespace lathe::tok {

namespace {

class WordPiece : public Model {
public:
    Vocab vocab;
    std::string unk_token = "[UNK]", prefix = "##";
    size_t max_chars = 100;

    void tokenize(std::string_view text, std::vector<Token>& out) const override {
        size_t chars = 0;
        for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
        if (chars > max_chars) {
            out.push_back({unk_id(), 0, text.size()});
            return;
        }
        size_t first = out.size(), start = 0;
        std::string buf;
        while (start < text.size()) {
            size_t end = text.size();
            bool found = false;
            while (start < end) {
                std::string_view sub = text.substr(start, end - start);
                if (start > 0) {
                    buf.assign(prefix);
                    buf.append(sub);
                    sub = buf;
                }
                if (const int64_t* id = vocab.find(sub)) {
                    out.push_back({*id, start, end});
                    found = true;
                    break;
                }
                // Step back one character.
                do --end;
                while (end > start && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80);
            }
            if (!found) {
                out.resize(first);
                out.push_back({unk_id(), 0, text.size()});
                return;
            }
            start = end;
        }
    }

    std::optional<int64_t> token_to_id(std::string_view t) const override { return vocab.get(t); }
    const std::string* id_to_token(int64_t id) const override { return vocab.token(id); }
    int64_t vocab_size() const override { return vocab.size(); }

private:
    int64_t unk_id() const {
        const int64_t* id = vocab.find(unk_token);
        if (!id) throw Error("model: unk_token '" + unk_token + "' is not in the vocabulary");
        return *id;
    }
};

class WordLevel : public Model {
public:
    Vocab vocab;
    std::string unk_token = "<unk>";

    void tokenize(std::string_view text, std::vector<Token>& out) const override {
        const int64_t* id = vocab.find(text);
        if (!id) id = vocab.find(unk_token);
        if (!id) throw Error("model: unk_token '" + unk_token + "' is not in the vocabulary");
        out.push_back({*id, 0, text.size()});
    }
    std::optional<int64_t> token_to_id(std::string_view t) const override { return vocab.get(t); }
    const std::string* id_to_token(int64_t id) const override { return vocab.token(id); }
    int64_t vocab_size() const override { return vocab.size(); }
};

void read_vocab_object(const json& j, const std::string& where, Vocab& vocab) {
    const json& v = required(j, "vocab", where);
    if (!v.is_object()) fail(child(where, "vocab"), "expected an object of token: id");
    vocab.reserve(v.size());
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (!it->is_number_integer()) fail(child(where, "vocab"), "token '" + it.key() + "' has a non-integer id");
        int64_t id = it->get<int64_t>();
        // Ids index a table, so a corrupt id must not turn into a huge allocation.
        if (id < 0 || id >= kMaxVocabId) fail(child(where, "vocab"), "token '" + it.key() + "' has id " + std::to_string(id) + " out of range");
        vocab.add(it.key(), id);
    }
}

}  // namespace

std::unique_ptr<Model> parse_wordpiece(const json& j, const std::string& where) {
    auto m = std::make_unique<WordPiece>();
    read_vocab_object(j, where, m->vocab);
    m->unk_token = get_string_or(j, "unk_token", where, "[UNK]");
    m->prefix = get_string_or(j, "continuing_subword_prefix", where, "##");
    m->max_chars = static_cast<size_t>(get_int_or(j, "max_input_chars_per_word", where, 100));
    return m;
}

std::unique_ptr<Model> parse_wordlevel(const json& j, const std::string& where) {
    auto m = std::make_unique<WordLevel>();
    read_vocab_object(j, where, m->vocab);
    m->unk_token = get_string_or(j, "unk_token", where, "<unk>");
    return m;
}

}  // namespace lathe::tok
