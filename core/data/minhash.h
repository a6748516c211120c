// Near-duplicate detection: MinHash signatures over word shingles, with LSH banding to find candidate
// pairs, each checked by the share of equal signature values (an estimate of Jaccard similarity).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace lathe::data {

struct MinHashOptions {
    int shingle_words = 3;    // shingles are runs of this many lowercased words (fewer words: one shingle)
    int permutations = 128;   // signature length
    int bands = 16;           // LSH bands of permutations / bands values each: pairs with Jaccard
                              // similarity above about (1/bands)^(bands/permutations) = 0.71 become candidates
    double threshold = 0.8;   // estimated Jaccard similarity at or above which two texts are near-duplicates
};

// `permutations` values (the low 16 bits of each minimum: two texts' values agree by chance with
// probability 1/65536, a negligible bias on the estimate, at half the memory); empty for a text without words.
std::vector<uint16_t> minhash_signature(std::string_view text, const MinHashOptions& options);
// The share of positions where two signatures agree.
double signature_similarity(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b);

// Texts added one by one; each is compared with the earlier text that first had one of its bands.
// Memory per text added: its signature (2 * permutations bytes) and one 8-byte table slot per band at
// most half full: 512 bytes with the default options.
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
    // Returns the first text whose band had `key` (keeping `index` for it when none had), or -1.
    int64_t first_with_band(uint64_t key, uint32_t index);

    std::vector<int64_t> ids_;
    std::vector<uint16_t> signatures_;  // ids_.size() * permutations
    // Open addressing, linear probing: slot = (32 bits of the band key) << 32 | (text index + 1); 0 empty.
    // Two bands that agree in those 32 bits only are a false candidate, which the signature check drops.
    std::vector<uint64_t> slots_;
    size_t used_ = 0;
};

}  // namespace lathe::data
