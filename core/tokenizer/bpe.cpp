// The BPE model (Rust tokenizers/src/models/bpe): characters (or byte-fallback pieces) are merged
// by merge rank with a binary heap over a linked list of symbols, exactly as Rust's Word::merge_all
// orders merges (lowest rank, then leftmost). Merged words are cached.
#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/components.h"
#include "core/tokenizer/unicode.h"
#include "core/tokenizer/vocab.h"

namespace lathe::tok {

namespace {

// Word -> tokens cache, sharded so encode_batch threads rarely contend. Like Rust's cache it stops
// growing when full rather than evicting.
class WordCache {
public:
    bool get(std::string_view word, std::vector<Token>& out) const {
        const Shard& s = shard(word);
        std::shared_lock lock(s.mutex);
        auto it = s.map.find(word);
        if (it == s.map.end()) return false;
        out.insert(out.end(), it->second.begin(), it->second.end());
        return true;
    }
    void put(std::string_view word, const Token* tokens, size_t n) const {
        if (word.size() >= kMaxWordBytes) return;
        Shard& s = shard(word);
        std::unique_lock lock(s.mutex);
        if (s.map.size() >= kCapacity / kShards) return;
        s.map.emplace(std::string(word), std::vector<Token>(tokens, tokens + n));
    }

private:
    static constexpr size_t kShards = 32, kCapacity = 10000 * 4, kMaxWordBytes = 256;
    struct Shard {
        mutable std::shared_mutex mutex;
        std::unordered_map<std::string, std::vector<Token>, StringHash, std::equal_to<>> map;
    };
    Shard& shard(std::string_view w) const { return shards_[StringHash{}(w) % kShards]; }
    mutable std::array<Shard, kShards> shards_;
};

struct MergeInfo {
    uint32_t rank;
    uint32_t new_id;
};

class Bpe : public Model {
public:
    Vocab vocab;
    std::unordered_map<uint64_t, MergeInfo> merges;
    std::optional<std::string> unk_token;
    std::string prefix, suffix;  // continuing_subword_prefix, end_of_word_suffix
    bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
    std::array<int64_t, 256> byte_ids{};  // id of "<0xNN>" or -1

    void tokenize(std::string_view text, std::vector<Token>& out) const override {
        if (text.empty()) return;
        if (ignore_merges) {
            if (const int64_t* id = vocab.find(text)) {
                out.push_back({*id, 0, text.size()});
                return;
            }
        }
        if (cache_.get(text, out)) return;
        size_t first = out.size();
        merge_word(text, out);
        cache_.put(text, out.data() + first, out.size() - first);
    }

    std::optional<int64_t> token_to_id(std::string_view t) const override { return vocab.get(t); }
    const std::string* id_to_token(int64_t id) const override { return vocab.token(id); }
    int64_t vocab_size() const override { return vocab.size(); }

private:
    struct Symbol {
        int64_t id;
        int32_t prev, next;
        size_t begin, len;
    };
    struct Candidate {
        uint32_t rank;
        uint32_t pos;
        uint32_t new_id;
        // std heap is a max-heap: "greater" means lower rank, then lower position.
        bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };

    const MergeInfo* find_merge(int64_t a, int64_t b) const {
        auto it = merges.find((static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b));
        return it == merges.end() ? nullptr : &it->second;
    }

    void merge_word(std::string_view w, std::vector<Token>& out) const {
        // Scratch space per thread: tokenize runs once per word, so per-call vectors would dominate.
        thread_local std::vector<Symbol> symbols;
        thread_local std::vector<Candidate> heap;
        thread_local std::string piece;
        symbols.clear();
        heap.clear();
        auto add = [&](int64_t id, size_t begin, size_t len) {
            int32_t n = static_cast<int32_t>(symbols.size());
            symbols.push_back({id, n - 1, n + 1, begin, len});
        };
        bool have_unk = false;
        int64_t unk_id = 0;
        size_t unk_begin = 0, unk_len = 0;
        for (size_t i = 0; i < w.size();) {
            size_t begin = i;
            size_t n = utf8_len(static_cast<unsigned char>(w[i]));
            i += n;
            bool is_first = begin == 0, is_last = i >= w.size();
            std::string_view s = w.substr(begin, n);
            if ((!is_first && !prefix.empty()) || (is_last && !suffix.empty())) {
                piece.clear();
                if (!is_first) piece += prefix;
                piece += s;
                if (is_last) piece += suffix;
                s = piece;
            }
            if (const int64_t* id = vocab.find(s)) {
                if (have_unk) {
                    add(unk_id, unk_begin, unk_len);
                    have_unk = false;
                }
                add(*id, begin, n);
                continue;
            }
            if (byte_fallback) {
                bool all = std::all_of(s.begin(), s.end(), [&](char c) { return byte_ids[static_cast<unsigned char>(c)] >= 0; });
                if (all) {
                    // Rust gives each fallback byte a length of 1 (offsets are cumulative lengths) and
                    // does not flush a pending unk first; both kept for identical output.
                    for (char c : s) add(byte_ids[static_cast<unsigned char>(c)], begin, 1);
                    continue;
                }
            }
            if (unk_token) {
                const int64_t* uid = vocab.find(*unk_token);
                if (!uid) throw Error("model: unk_token '" + *unk_token + "' is not in the vocabulary");
                if (have_unk && fuse_unk) {
                    unk_len += n;
                } else {
                    if (have_unk) add(unk_id, unk_begin, unk_len);
                    have_unk = true;
                    unk_id = *uid;
                    unk_begin = begin;
                    unk_len = n;
                }
            }
        }
        if (have_unk) add(unk_id, unk_begin, unk_len);
        if (symbols.empty()) return;
        symbols.back().next = -1;

        for (size_t k = 0; k + 1 < symbols.size(); ++k)
            if (const MergeInfo* m = find_merge(symbols[k].id, symbols[k + 1].id))
                heap.push_back({m->rank, static_cast<uint32_t>(k), m->new_id});
        std::make_heap(heap.begin(), heap.end());
        while (!heap.empty()) {
            std::pop_heap(heap.begin(), heap.end());
            Candidate top = heap.back();
            heap.pop_back();
            Symbol& cur = symbols[top.pos];
            if (cur.len == 0 || cur.next == -1) continue;
            Symbol& right = symbols[static_cast<size_t>(cur.next)];
            const MergeInfo* m = find_merge(cur.id, right.id);
            if (!m || m->new_id != top.new_id) continue;  // a stale entry
            cur.id = top.new_id;
            cur.len += right.len;
            cur.next = right.next;
            right.len = 0;
            if (cur.next >= 0) symbols[static_cast<size_t>(cur.next)].prev = static_cast<int32_t>(top.pos);
            if (cur.prev >= 0) {
                if (const MergeInfo* pm = find_merge(symbols[static_cast<size_t>(cur.prev)].id, cur.id)) {
                    heap.push_back({pm->rank, static_cast<uint32_t>(cur.prev), pm->new_id});
                    std::push_heap(heap.begin(), heap.end());
                }
            }
            if (cur.next >= 0) {
                if (const MergeInfo* nm = find_merge(cur.id, symbols[static_cast<size_t>(cur.next)].id)) {
                    heap.push_back({nm->rank, top.pos, nm->new_id});
                    std::push_heap(heap.begin(), heap.end());
                }
            }
        }
        // Offsets are running sums of the symbol lengths, as in Rust's Word::get_offsets_iter.
        size_t pos = 0;
        for (const Symbol& s : symbols)
            if (s.len != 0) {
                out.push_back({s.id, pos, pos + s.len});
                pos += s.len;
            }
        // Do not keep a huge word's scratch space alive in every thread.
        if (symbols.capacity() > (size_t{1} << 16)) {
            symbols = {};
            heap = {};
        }
    }

    WordCache cache_;
};

}  // namespace

std::unique_ptr<Model> parse_bpe(const json& j, const std::string& where) {
    auto bpe = std::make_unique<Bpe>();
    const json& vocab = required(j, "vocab", where);
    if (!vocab.is_object()) fail(child(where, "vocab"), "expected an object of token: id");
    bpe->vocab.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        if (!it->is_number_integer()) fail(child(where, "vocab"), "token '" + it.key() + "' has a non-integer id");
        int64_t id = it->get<int64_t>();
        // Ids index a table, so a corrupt id must not turn into a huge allocation.
        if (id < 0 || id >= kMaxVocabId) fail(child(where, "vocab"), "token '" + it.key() + "' has id " + std::to_string(id) + " out of range");
        bpe->vocab.add(it.key(), id);
    }
    double dropout = get_number_or(j, "dropout", where, 0.0);
    if (dropout != 0.0) fail(child(where, "dropout"), "BPE dropout must be null or 0 for inference");
    if (member(j, "unk_token")) bpe->unk_token = get_string(j, "unk_token", where);
    bpe->prefix = get_string_or(j, "continuing_subword_prefix", where, "");
    bpe->suffix = get_string_or(j, "end_of_word_suffix", where, "");
    bpe->fuse_unk = get_bool_or(j, "fuse_unk", where, false);
    bpe->byte_fallback = get_bool_or(j, "byte_fallback", where, false);
    bpe->ignore_merges = get_bool_or(j, "ignore_merges", where, false);
    bpe->byte_ids.fill(-1);
    if (bpe->byte_fallback) {
        static const char* hex = "0123456789ABCDEF";
        for (int b = 0; b < 256; ++b) {
            std::string t = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
            if (const int64_t* id = bpe->vocab.find(t)) bpe->byte_ids[b] = *id;
        }
    }
    const json* merges = member(j, "merges");
    if (merges && !merges->is_array()) fail(child(where, "merges"), "expected a list");
    size_t n = merges ? merges->size() : 0;
    bpe->merges.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const json& m = (*merges)[i];
        std::string w = child(where, "merges", i);
        std::string a, b;
        if (m.is_string()) {
            const std::string& s = m.get_ref<const std::string&>();
            size_t sp = s.find(' ');
            if (sp == std::string::npos) fail(w, "expected \"a b\", got '" + s + "'");
            a = s.substr(0, sp);
            b = s.substr(sp + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            a = m[0].get<std::string>();
            b = m[1].get<std::string>();
        } else {
            fail(w, "expected \"a b\" or [\"a\", \"b\"]");
        }
        const int64_t* ia = bpe->vocab.find(a);
        if (!ia) fail(w, "names unknown token '" + a + "'");
        const int64_t* ib = bpe->vocab.find(b);
        if (!ib) fail(w, "names unknown token '" + b + "'");
        std::string merged = a + (b.size() >= bpe->prefix.size() ? b.substr(bpe->prefix.size()) : std::string());
        const int64_t* im = bpe->vocab.find(merged);
        if (!im) fail(w, "merged token '" + merged + "' is not in the vocabulary");
        bpe->merges.insert_or_assign((static_cast<uint64_t>(*ia) << 32) | static_cast<uint64_t>(*ib),
                                     MergeInfo{static_cast<uint32_t>(i), static_cast<uint32_t>(*im)});
    }
    return bpe;
}

}  // namespace lathe::tok
