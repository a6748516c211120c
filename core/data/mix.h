// Mixing several sources with weights, and the train/validation split, on row indices (so they work for
// any row representation). Deterministic for a seed on every platform: own generator, no std::
// distributions (whose results differ between standard libraries).
#pragma once

#include <cstdint>
#include <vector>

namespace lathe::data {

struct MixSource {
    uint64_t rows = 0;    // rows the source has
    double weight = 1.0;  // rows per epoch = weight * rows: 1.0 every row once, 0.5 a seeded half,
                          // 2.5 every row twice plus a seeded half; 0 leaves the source out
};

struct RowRef {
    uint32_t source = 0;
    uint64_t row = 0;
    bool operator==(const RowRef&) const = default;
};

// One epoch's rows: per source, each row floor(weight) times, then round(frac(weight) * rows) distinct
// rows drawn with `seed`, in source order and row order within a draw (shuffle_rows mixes them).
// Throws lathe::Error for a negative or non-finite weight.
std::vector<RowRef> mix_sources(const std::vector<MixSource>& sources, uint64_t seed);

// A seeded Fisher-Yates shuffle.
void shuffle_rows(std::vector<RowRef>& rows, uint64_t seed);

// `count` distinct indices below n, drawn with `seed`, in increasing order.
std::vector<uint64_t> sample_indices(uint64_t n, uint64_t count, uint64_t seed);

struct Split {
    std::vector<uint64_t> train, validation;  // row indices, increasing
};
// round(ratio * rows) rows (at least one when ratio > 0 and there are two rows or more) drawn with
// `seed` for validation, the rest for training. Throws lathe::Error unless 0 <= ratio < 1.
Split split_rows(uint64_t rows, double validation_ratio, uint64_t seed);

}  // namespace lathe::data
