// Near-duplicate detection: MinHash signatures over word shingles, with LSH banding to find candidate
// pairs, each checked by the share of equal signature values (an estimate of Jaccard similarity).
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lathe::data {

struct MinHashOptions {
    int shingle_words = 3;    // shingles are runs of this many lowercased words (fewer words: one shingle)
    int permutations = 128;   // signature length
    int bands = 16;           // LSH bands of permutations / bands values each: pairs with Jaccard
                              // similarity above about (1/bands)^(bands/permutations) = 0.71 become candidates
    double threshold = 0.8;   // estimated Jaccard similarity at or above which two texts are near-duplicates
};

// permutations 32-bit values; empty for a text without words.
std::vector<uint32_t> minhash_signature(std::string_view text, const MinHashOptions& options);
// The share of positions where two signatures agree.
double signature_similarity(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b);

// Texts added one by one; each is compared with the earlier ones that share a band with it.
// Memory: the signature (4 * permutations bytes) and one table entry per band for every text added.
class NearDuplicateFinder {
public:
    explicit NearDuplicateFinder(MinHashOptions options = {});
    struct Match {
        int64_t earlier = -1;      // id of the earlier text it is a near-duplicate of, -1 for none
        double similarity = 0;
    };
    // Adds text `id` (ids are the caller's, e.g. row numbers) and returns its best earlier match.
    Match add(int64_t id, std::string_view text);
    size_t size() const { return ids_.size(); }

private:
    MinHashOptions options_;
    std::vector<int64_t> ids_;
    std::vector<uint32_t> signatures_;  // ids_.size() * permutations
    std::vector<std::unordered_map<uint64_t, uint32_t>> bands_;  // band hash -> first text with it
};

}  // namespace lathe::data
