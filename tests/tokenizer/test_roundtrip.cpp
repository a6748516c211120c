// Property tests: decode(encode(x)) == x for the byte-level tokenizers on random Unicode text
// (fixed seed), and offsets that stay inside the input and on character boundaries.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/tokenizer/tokenizer.h"
#include "core/util/utf8.h"

namespace {

const std::string kDir = std::string(LATHE_FIXTURES) + "/hf/tokenizers/";

using lathe::append_utf8;

std::string random_text(std::mt19937& rng) {
    // Mostly ASCII words and spaces, with Latin-1, combining marks, CJK, emoji and control characters.
    static const char32_t ranges[][2] = {{0x20, 0x7E}, {0x20, 0x20}, {0x0A, 0x0D}, {0xA0, 0x17F}, {0x300, 0x36F},
                                         {0x4E00, 0x4EFF}, {0x1F600, 0x1F64F}, {0x0, 0x1F}, {0x3040, 0x30FF},
                                         {0xFFF0, 0xFFFD}, {0x10000, 0x10FFF}};
    std::uniform_int_distribution<int> len(0, 40), which(0, 10);
    std::string s;
    int n = len(rng);
    for (int i = 0; i < n; ++i) {
        const auto& r = ranges[which(rng)];
        std::uniform_int_distribution<uint32_t> cp(r[0], r[1]);
        append_utf8(s, cp(rng));
    }
    return s;
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, DecodeOfEncodeIsIdentity) {
    auto tok = lathe::Tokenizer::from_file(kDir + GetParam() + "/tokenizer.json");
    std::mt19937 rng(1234);
    for (int i = 0; i < 500; ++i) {
        std::string text = random_text(rng);
        auto enc = tok.encode(text, false);
        ASSERT_EQ(tok.decode(enc.ids, false), text) << "case " << i;
        ASSERT_EQ(enc.offsets.size(), enc.ids.size());
        for (auto [b, e] : enc.offsets) {
            ASSERT_LE(b, e);
            ASSERT_LE(e, text.size());
        }
    }
}

INSTANTIATE_TEST_SUITE_P(ByteLevel, RoundTrip,
                         ::testing::Values("bytelevel-gpt2", "bytelevel-regex-qwen"), [](const auto& info) {
                             std::string n = info.param;
                             for (char& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

TEST(EncodeBatch, MatchesEncodeInInputOrder) {
    auto tok = lathe::Tokenizer::from_file(kDir + "bytelevel-regex-qwen/tokenizer.json");
    std::mt19937 rng(99);
    std::vector<std::string> texts;
    for (int i = 0; i < 300; ++i) texts.push_back(random_text(rng));
    auto batch = tok.encode_batch(texts, true, 4);
    ASSERT_EQ(batch.size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
        auto one = tok.encode(texts[i], true);
        EXPECT_EQ(batch[i].ids, one.ids) << i;
        EXPECT_EQ(batch[i].offsets, one.offsets) << i;
    }
    EXPECT_TRUE(tok.encode_batch({}, true, 4).empty());
}

}  // namespace

namespace {

// Invalid UTF-8 is read as Python's bytes.decode("utf-8", "replace") reads it (the expected texts were
// produced by Python); offsets still point into the bytes given.
TEST(InvalidUtf8, ReadAsPythonReplaceDecodes) {
    auto tok = lathe::Tokenizer::from_file(kDir + "bytelevel-gpt2/tokenizer.json");
    const std::string r = "\xEF\xBF\xBD";
    const std::pair<std::string, std::string> cases[] = {
        {"caf\xC3", "caf" + r},
        {"\xE2\x82 x \xF0\x9F\x98", r + " x " + r},
        {"\xED\xA0\x80\xC0\xAF\xFF", r + r + r + r + r + r},
        {"\xF4\x90\x80\x80" "a\xF0\x90\x80", r + r + r + r + "a" + r},
    };
    for (const auto& [raw, want] : cases) {
        auto enc = tok.encode(raw, false);
        EXPECT_EQ(tok.decode(enc.ids), want);
        ASSERT_FALSE(enc.offsets.empty());
        EXPECT_EQ(enc.offsets.front().first, 0u);
        EXPECT_EQ(enc.offsets.back().second, raw.size());
        for (auto [b, e] : enc.offsets) EXPECT_LE(e, raw.size());
    }
}

}  // namespace
