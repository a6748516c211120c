#include "core/data/minhash.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string>

#include "core/util/error.h"

namespace lathe::data {

namespace {

uint64_t mix64(uint64_t z) {  // SplitMix64's finalizer
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s, uint64_t h = 0xCBF29CE484222325ULL) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
    return h;
}

// Words: runs of letters and digits (any non-ASCII byte counts as a letter, so UTF-8 words stay whole),
// lowercased.
std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    for (unsigned char c : text) {
        if (c >= 0x80 || std::isalnum(c)) {
            word.push_back(static_cast<char>(c < 0x80 ? std::tolower(c) : c));
        } else if (!word.empty()) {
            words.push_back(std::move(word));
            word.clear();
        }
    }
    if (!word.empty()) words.push_back(std::move(word));
    return words;
}

}  // namespace

std::vector<uint16_t> minhash_signature(std::string_view text, const MinHashOptions& options) {
    std::vector<std::string> words = words_of(text);
    if (words.empty()) return {};
    size_t k = static_cast<size_t>(std::max(1, options.shingle_words));
    size_t shingles = words.size() >= k ? words.size() - k + 1 : 1;
    std::vector<uint64_t> hashes(shingles);
    for (size_t s = 0; s < shingles; ++s) {
        uint64_t h = 0xCBF29CE484222325ULL;
        for (size_t w = s; w < std::min(words.size(), s + k); ++w) h = fnv1a(words[w], h) * 31 + 1;  // word boundary
        hashes[s] = h;
    }
    std::sort(hashes.begin(), hashes.end());
    hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
    std::vector<uint16_t> signature(options.permutations);
    for (int p = 0; p < options.permutations; ++p) {
        uint64_t seed = mix64(static_cast<uint64_t>(p) + 1);
        uint64_t best = std::numeric_limits<uint64_t>::max();
        for (uint64_t h : hashes) best = std::min(best, mix64(h ^ seed));
        signature[p] = static_cast<uint16_t>(best);
    }
    return signature;
}

double signature_similarity(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
    if (a.empty() || a.size() != b.size()) return 0;
    size_t same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    return static_cast<double>(same) / static_cast<double>(a.size());
}

NearDuplicateFinder::NearDuplicateFinder(MinHashOptions options) : options_(options) {
    LATHE_ASSERT(options_.bands > 0 && options_.permutations % options_.bands == 0);
}

int64_t NearDuplicateFinder::first_with_band(uint64_t key, uint32_t index) {
    if (2 * (used_ + 1) > slots_.size()) {  // grow: keep the table at most half full
        std::vector<uint64_t> old = std::move(slots_);
        slots_.assign(std::max<size_t>(1024, old.size() * 2), 0);
        used_ = 0;
        for (uint64_t slot : old)
            if (slot) first_with_band(slot & 0xFFFFFFFF00000000ULL, static_cast<uint32_t>(slot) - 1);
    }
    uint64_t tag = key & 0xFFFFFFFF00000000ULL;
    size_t mask = slots_.size() - 1;
    for (size_t i = mix64(tag) & mask;; i = (i + 1) & mask) {
        if (slots_[i] == 0) {
            slots_[i] = tag | (static_cast<uint64_t>(index) + 1);
            ++used_;
            return -1;
        }
        if ((slots_[i] & 0xFFFFFFFF00000000ULL) == tag) return static_cast<int64_t>(static_cast<uint32_t>(slots_[i]) - 1);
    }
}

NearDuplicateFinder::Match NearDuplicateFinder::add(int64_t id, std::string_view text) {
    std::vector<uint16_t> sig = minhash_signature(text, options_);
    Match best;
    if (sig.empty()) return best;
    size_t n = static_cast<size_t>(options_.permutations), rows = n / options_.bands;
    uint32_t index = static_cast<uint32_t>(ids_.size());
    std::vector<uint16_t> theirs(n);
    for (int b = 0; b < options_.bands; ++b) {
        uint64_t key = mix64(0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(b + 1));  // each band its own keys
        for (size_t r = 0; r < rows; ++r) key = mix64(key ^ sig[b * rows + r]);
        int64_t other = first_with_band(key, index);
        if (other < 0) continue;
        std::copy(signatures_.begin() + other * n, signatures_.begin() + (other + 1) * n, theirs.begin());
        double similarity = signature_similarity(sig, theirs);
        if (similarity >= options_.threshold && similarity > best.similarity) best = Match{ids_[static_cast<size_t>(other)], similarity};
    }
    ids_.push_back(id);
    signatures_.insert(signatures_.end(), sig.begin(), sig.end());
    return best;
}

}  // namespace lathe::data
