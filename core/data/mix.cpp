#include "core/data/mix.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include "core/util/error.h"

namespace lathe::data {

namespace {

// SplitMix64: tiny, well mixed, the same everywhere.
struct Random {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) {  // uniform in [0, n): Lemire's multiply-shift with rejection
        unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
        uint64_t low = static_cast<uint64_t>(m);
        if (low < n) {
            uint64_t threshold = (0 - n) % n;
            while (low < threshold) {
                m = static_cast<unsigned __int128>(next()) * n;
                low = static_cast<uint64_t>(m);
            }
        }
        return static_cast<uint64_t>(m >> 64);
    }
};

}  // namespace

std::vector<uint64_t> sample_indices(uint64_t n, uint64_t count, uint64_t seed) {
    LATHE_ASSERT(count <= n);
    // A partial Fisher-Yates over a sparse permutation: memory grows with `count`, not with n.
    Random random{seed};
    std::unordered_map<uint64_t, uint64_t> swapped;
    auto at = [&](uint64_t i) {
        auto it = swapped.find(i);
        return it == swapped.end() ? i : it->second;
    };
    std::vector<uint64_t> picked;
    picked.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t j = i + random.below(n - i);
        uint64_t vi = at(i), vj = at(j);
        picked.push_back(vj);
        swapped[j] = vi;
    }
    std::sort(picked.begin(), picked.end());
    return picked;
}

std::vector<RowRef> mix_sources(const std::vector<MixSource>& sources, uint64_t seed) {
    std::vector<RowRef> rows;
    for (size_t s = 0; s < sources.size(); ++s) {
        double w = sources[s].weight;
        if (!std::isfinite(w) || w < 0) throw Error("source " + std::to_string(s + 1) + ": weight must be 0 or more (got " + std::to_string(w) + ")");
        uint64_t n = sources[s].rows;
        uint64_t whole = static_cast<uint64_t>(std::floor(w));
        for (uint64_t k = 0; k < whole; ++k)
            for (uint64_t r = 0; r < n; ++r) rows.push_back({static_cast<uint32_t>(s), r});
        uint64_t extra = std::min<uint64_t>(n, static_cast<uint64_t>(std::llround((w - std::floor(w)) * static_cast<double>(n))));
        // Each source draws with its own stream, so adding a source does not change another's rows.
        for (uint64_t r : sample_indices(n, extra, seed ^ (0xA5A5A5A5ULL * (s + 1)))) rows.push_back({static_cast<uint32_t>(s), r});
    }
    return rows;
}

void shuffle_rows(std::vector<RowRef>& rows, uint64_t seed) {
    Random random{seed};
    for (uint64_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[random.below(i)]);
}

Split split_rows(uint64_t rows, double validation_ratio, uint64_t seed) {
    if (!(validation_ratio >= 0 && validation_ratio < 1))
        throw Error("validation ratio must be at least 0 and below 1 (got " + std::to_string(validation_ratio) + ")");
    uint64_t count = static_cast<uint64_t>(std::llround(validation_ratio * static_cast<double>(rows)));
    if (validation_ratio > 0 && count == 0 && rows >= 2) count = 1;
    if (count >= rows && rows > 0) count = rows - 1;  // keep at least one training row
    Split split;
    split.validation = sample_indices(rows, count, seed);
    split.train.reserve(rows - count);
    size_t v = 0;
    for (uint64_t r = 0; r < rows; ++r) {
        if (v < split.validation.size() && split.validation[v] == r) ++v;
        else split.train.push_back(r);
    }
    return split;
}

}  // namespace lathe::data
