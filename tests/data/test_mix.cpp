// Mixing sources by weight and the train/validation split: counts, determinism for a seed, and that
// different seeds draw differently.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/data/mix.h"
#include "core/util/error.h"

namespace lathe {
namespace {

using data::MixSource;

TEST(Mix, WeightsGiveRowsPerEpoch) {
    auto rows = data::mix_sources({MixSource{1000, 1.0}, MixSource{400, 0.5}, MixSource{10, 2.5}, MixSource{50, 0.0}}, 42);
    std::map<uint32_t, std::map<uint64_t, int>> seen;
    for (const auto& r : rows) ++seen[r.source][r.row];
    EXPECT_EQ(seen[0].size(), 1000u);  // every row once
    for (const auto& [row, n] : seen[0]) EXPECT_EQ(n, 1);
    EXPECT_EQ(seen[1].size(), 200u);   // a seeded half, each at most once
    for (const auto& [row, n] : seen[1]) EXPECT_EQ(n, 1);
    EXPECT_EQ(seen[2].size(), 10u);    // every row twice, and 5 of them a third time
    int thrice = 0;
    for (const auto& [row, n] : seen[2]) {
        EXPECT_TRUE(n == 2 || n == 3);
        thrice += n == 3;
    }
    EXPECT_EQ(thrice, 5);
    EXPECT_EQ(seen.count(3), 0u);
    EXPECT_EQ(rows.size(), 1000u + 200u + 25u);
}

TEST(Mix, DeterministicForASeed) {
    std::vector<MixSource> sources{{5000, 1.0}, {3000, 0.3}};
    auto a = data::mix_sources(sources, 7), b = data::mix_sources(sources, 7), c = data::mix_sources(sources, 8);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    data::shuffle_rows(a, 1);
    data::shuffle_rows(b, 1);
    EXPECT_EQ(a, b);
    auto sorted = a;
    std::sort(sorted.begin(), sorted.end(), [](auto& x, auto& y) { return std::pair(x.source, x.row) < std::pair(y.source, y.row); });
    EXPECT_NE(a, sorted);  // shuffled
    // Adding a source does not change which rows another source draws.
    auto with_third = data::mix_sources({{5000, 1.0}, {3000, 0.3}, {100, 0.5}}, 7);
    auto base = data::mix_sources(sources, 7);
    EXPECT_EQ(std::vector<data::RowRef>(with_third.begin(), with_third.begin() + static_cast<long>(base.size())), base);
    EXPECT_THROW(data::mix_sources({{10, -1.0}}, 0), Error);
}

TEST(Mix, SampleIndicesAreUniformEnough) {
    // 20000 draws of 10 of 100: each index about 2000 times (binomial sd ~42); a broken draw is far off.
    std::vector<int> counts(100);
    for (uint64_t seed = 0; seed < 20000; ++seed)
        for (uint64_t i : data::sample_indices(100, 10, seed)) ++counts[i];
    for (int c : counts) {
        EXPECT_GT(c, 1800);
        EXPECT_LT(c, 2200);
    }
    auto picked = data::sample_indices(1000000000000ULL, 5, 3);  // sparse: no table of n entries
    EXPECT_EQ(std::set<uint64_t>(picked.begin(), picked.end()).size(), 5u);
}

TEST(Split, RatioAndSeed) {
    auto s = data::split_rows(1000, 0.1, 3);
    EXPECT_EQ(s.validation.size(), 100u);
    EXPECT_EQ(s.train.size(), 900u);
    std::set<uint64_t> all(s.train.begin(), s.train.end());
    all.insert(s.validation.begin(), s.validation.end());
    EXPECT_EQ(all.size(), 1000u);
    EXPECT_TRUE(std::is_sorted(s.validation.begin(), s.validation.end()));
    EXPECT_EQ(data::split_rows(1000, 0.1, 3).validation, s.validation);
    EXPECT_NE(data::split_rows(1000, 0.1, 4).validation, s.validation);
    EXPECT_EQ(data::split_rows(5, 0.01, 0).validation.size(), 1u);  // at least one when asked for some
    EXPECT_EQ(data::split_rows(5, 0.0, 0).validation.size(), 0u);
    EXPECT_THROW(data::split_rows(5, 1.0, 0), Error);
}

}  // namespace
}  // namespace lathe
