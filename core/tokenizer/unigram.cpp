// Unigram (Rust tokenizers/src/models/unigram): Viterbi best path over the lattice of vocabulary
// pieces, scores summed as f64; characters no piece covers become unk (fused, as Rust always does),
// then optionally byte fallback.
#include <cmath>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/components.h"
#include "core/tokenizer/unicode.h"
#include "core/tokenizer/vocab.h"

namespace lathe::tok {

namespace {

// A byte trie over the pieces for common-prefix search.
class Trie {
public:
    void insert(std::string_view s, int64_t id) {
        uint32_t node = 0;
        for (unsigned char c : s) {
            uint64_t key = (static_cast<uint64_t>(node) << 8) | c;
            auto it = edges_.find(key);
            if (it == edges_.end()) {
                uint32_t next = static_cast<uint32_t>(ids_.size());
                ids_.push_back(-1);
                edges_.emplace(key, next);
                node = next;
            } else {
                node = it->second;
            }
        }
        ids_[node] = id;
    }
    // Calls f(length, id) for every piece that is a prefix of s.
    template <typename F>
    void prefixes(std::string_view s, F&& f) const {
        uint32_t node = 0;
        for (size_t i = 0; i < s.size(); ++i) {
            auto it = edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(s[i]));
            if (it == edges_.end()) return;
            node = it->second;
            if (ids_[node] >= 0) f(i + 1, ids_[node]);
        }
    }

private:
    std::unordered_map<uint64_t, uint32_t> edges_;
    std::vector<int64_t> ids_{-1};
};

class Unigram : public Model {
public:
    Vocab vocab;
    std::vector<double> scores;
    Trie trie;
    std::optional<int64_t> unk_id;
    bool byte_fallback = false;
    double min_score = INFINITY;

    void tokenize(std::string_view s, std::vector<Token>& out) const override {
        if (s.empty()) return;
        constexpr double kUnkPenalty = 10.0;
        double unk_score = min_score - kUnkPenalty;
        struct Node {
            int64_t id = -1;
            double score = 0;
            long starts_at = -1;
        };
        std::vector<Node> best(s.size() + 1);
        for (size_t at = 0; at < s.size();) {
            double here = best[at].score;
            size_t mblen = utf8_len(static_cast<unsigned char>(s[at]));
            bool single = false;
            trie.prefixes(s.substr(at), [&](size_t len, int64_t id) {
                Node& t = best[at + len];
                double cand = scores[static_cast<size_t>(id)] + here;
                if (t.starts_at < 0 || cand > t.score) t = {id, cand, static_cast<long>(at)};
                if (len == mblen) single = true;
            });
            if (!single) {
                if (!unk_id) throw Error("model: Unigram has no unk_id but the text has a character outside the vocabulary");
                Node& t = best[at + mblen];
                double cand = unk_score + here;
                if (t.starts_at < 0 || cand > t.score) t = {*unk_id, cand, static_cast<long>(at)};
            }
            at += mblen;
        }
        // Walk back; consecutive unk pieces are fused into one.
        std::vector<std::pair<size_t, size_t>> pieces;
        size_t end = s.size();
        size_t fused_begin = 0, fused_end = 0;
        bool fusing = false;
        while (end > 0) {
            const Node& n = best[end];
            size_t start = static_cast<size_t>(n.starts_at);
            if (unk_id && n.id == *unk_id) {
                if (!fusing) fused_end = end;
                fusing = true;
                fused_begin = start;
            } else {
                if (fusing) pieces.push_back({fused_begin, fused_end});
                fusing = false;
                pieces.push_back({start, end});
            }
            end = start;
        }
        if (fusing) pieces.push_back({fused_begin, fused_end});
        static const char* hex = "0123456789ABCDEF";
        for (size_t k = pieces.size(); k-- > 0;) {
            auto [b, e] = pieces[k];
            std::string_view piece = s.substr(b, e - b);
            if (const int64_t* id = vocab.find(piece)) {
                out.push_back({*id, b, e});
                continue;
            }
            if (byte_fallback) {
                size_t first = out.size();
                bool ok = true;
                for (unsigned char c : piece) {
                    std::string t = std::string("<0x") + hex[c >> 4] + hex[c & 15] + ">";
                    const int64_t* id = vocab.find(t);
                    if (!id) {
                        ok = false;
                        break;
                    }
                    out.push_back({*id, b, e});
                }
                if (ok) continue;
                out.resize(first);
            }
            if (!unk_id) throw Error("model: Unigram has no unk_id");
            out.push_back({*unk_id, b, e});
        }
    }

    std::optional<int64_t> token_to_id(std::string_view t) const override { return vocab.get(t); }
    const std::string* id_to_token(int64_t id) const override { return vocab.token(id); }
    int64_t vocab_size() const override { return vocab.size(); }
};

}  // namespace

std::unique_ptr<Model> parse_unigram(const json& j, const std::string& where) {
    auto m = std::make_unique<Unigram>();
    const json& v = required(j, "vocab", where);
    if (!v.is_array()) fail(child(where, "vocab"), "expected a list of [piece, score]");
    m->scores.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        const json& e = v[i];
        if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
            fail(child(where, "vocab", i), "expected [piece, score]");
        std::string piece = e[0].get<std::string>();
        double score = e[1].get<double>();
        m->vocab.add(piece, static_cast<int64_t>(i));
        m->trie.insert(piece, static_cast<int64_t>(i));
        m->scores.push_back(score);
        m->min_score = std::min(m->min_score, score);
    }
    if (member(j, "unk_id")) {
        int64_t u = get_int_or(j, "unk_id", where, 0);
        if (u < 0 || u >= static_cast<int64_t>(v.size())) fail(child(where, "unk_id"), "out of the vocabulary");
        m->unk_id = u;
    }
    m->byte_fallback = get_bool_or(j, "byte_fallback", where, false);
    return m;
}

}  // namespace lathe::tok
