// The tokenized-dataset cache: reused when nothing changed (the build does not run), rebuilt when any
// key input changes, and never trusted when the file is damaged.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "core/data/token_cache.h"
#include "tests/data/data_test_util.h"

namespace fs = std::filesystem;
using namespace lathe::data;

namespace {

struct CacheSetup {
    lathe::test::TempDir tmp;
    std::string data, tokenizer, cache;
    int builds = 0;
    CacheSetup() {
        data = (tmp.path / "train.jsonl").string();
        std::ofstream(data) << "{\"text\": \"one\"}\n{\"text\": \"two\"}\n";
        tokenizer = (tmp.path / "tok").string();
        fs::create_directories(tokenizer);
        std::ofstream(tokenizer + "/tokenizer.json") << "{\"version\": \"1.0\"}";
        std::ofstream(tokenizer + "/tokenizer_config.json") << "{\"eos_token\": \"</s>\"}";
        cache = (tmp.path / "cache").string();
    }
    TokenCacheKey key(const nlohmann::ordered_json& settings = {{"type", "text"}, {"max_length", 16}}) {
        return make_token_cache_key({data}, tokenizer, settings);
    }
    TokenCacheResult load(const TokenCacheKey& k) {
        return load_or_build_tokens(cache, k, [&](TokenRowsBuilder& b) {
            ++builds;
            b.add({1, 2, 3}, {-100, 2, 3});
            b.add({4, 5}, {4, 5});
            b.problem(Problem{"train.jsonl", 3, "text", "not a string"});
        });
    }
};

void expect_rows(const TokenRows& rows) {
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(std::vector<int32_t>(rows.input_ids(0).begin(), rows.input_ids(0).end()), (std::vector<int32_t>{1, 2, 3}));
    EXPECT_EQ(std::vector<int32_t>(rows.labels(0).begin(), rows.labels(0).end()), (std::vector<int32_t>{-100, 2, 3}));
    EXPECT_EQ(std::vector<int32_t>(rows.input_ids(1).begin(), rows.input_ids(1).end()), (std::vector<int32_t>{4, 5}));
    EXPECT_EQ(rows.total_tokens(), 5u);
    ASSERT_EQ(rows.problems().size(), 1u);
    EXPECT_EQ(rows.problems()[0].line, 3);
    EXPECT_EQ(rows.problems()[0].message, "not a string");
}

}  // namespace

TEST(TokenCache, ReusedWithoutRebuilding) {
    CacheSetup s;
    auto first = s.load(s.key());
    EXPECT_FALSE(first.reused);
    expect_rows(*first.rows);
    auto second = s.load(s.key());
    EXPECT_TRUE(second.reused);
    EXPECT_EQ(s.builds, 1);
    expect_rows(*second.rows);
}

TEST(TokenCache, EveryKeyInputRebuilds) {
    CacheSetup s;
    s.load(s.key());
    std::string base = s.key().hex;

    std::ofstream(s.data, std::ios::app) << "{\"text\": \"three\"}\n";  // the data's bytes
    EXPECT_NE(s.key().hex, base);
    EXPECT_FALSE(s.load(s.key()).reused);
    EXPECT_EQ(s.builds, 2);

    std::ofstream(s.tokenizer + "/tokenizer_config.json") << "{\"eos_token\": \"<eos>\"}";  // the tokenizer
    EXPECT_FALSE(s.load(s.key()).reused);
    EXPECT_EQ(s.builds, 3);

    std::ofstream(s.tokenizer + "/chat_template.jinja") << "{{ messages }}";  // the template
    EXPECT_FALSE(s.load(s.key()).reused);
    EXPECT_EQ(s.builds, 4);

    EXPECT_FALSE(s.load(s.key({{"type", "text"}, {"max_length", 32}})).reused);  // a setting
    EXPECT_EQ(s.builds, 5);
    EXPECT_TRUE(s.load(s.key({{"type", "text"}, {"max_length", 32}})).reused);
    EXPECT_TRUE(s.load(s.key()).reused);  // the earlier settings' file is still there
    EXPECT_EQ(s.builds, 5);
}

TEST(TokenCache, DamagedFilesAreRebuilt) {
    CacheSetup s;
    auto key = s.key();
    auto first = s.load(key);
    std::string path = first.rows->path();
    first.rows.reset();
    auto size = fs::file_size(path);

    {  // one flipped bit in the tokens
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(64 + 3 * 8 + 4);
        char c = 0;
        f.read(&c, 1);
        c ^= 1;
        f.seekp(64 + 3 * 8 + 4);
        f.write(&c, 1);
    }
    auto corrupt = s.load(key);
    EXPECT_FALSE(corrupt.reused);
    EXPECT_NE(corrupt.rebuilt_because.find("checksum"), std::string::npos) << corrupt.rebuilt_because;
    expect_rows(*corrupt.rows);
    corrupt.rows.reset();

    fs::resize_file(path, size - 10);
    auto truncated = s.load(key);
    EXPECT_FALSE(truncated.reused);
    EXPECT_NE(truncated.rebuilt_because.find("truncated"), std::string::npos) << truncated.rebuilt_because;
    truncated.rows.reset();

    fs::resize_file(path, 20);
    EXPECT_FALSE(s.load(key).reused);
    std::ofstream(path, std::ios::trunc) << "not a cache";
    EXPECT_FALSE(s.load(key).reused);
    EXPECT_EQ(s.builds, 5);
    EXPECT_TRUE(s.load(key).reused);
}

TEST(TokenCache, DefaultLocation) {
    auto saved = [](const char* name) { const char* v = std::getenv(name); return v ? std::optional<std::string>(v) : std::nullopt; };
    auto xdg = saved("XDG_CACHE_HOME"), home = saved("HOME");
    EXPECT_EQ(default_token_cache_dir("/data/prepared"), "/data/prepared");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    EXPECT_EQ(default_token_cache_dir(), "/xdg/lathe/datasets");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    EXPECT_EQ(default_token_cache_dir(), "/home/u/.cache/lathe/datasets");
    if (xdg) setenv("XDG_CACHE_HOME", xdg->c_str(), 1);
    if (home) setenv("HOME", home->c_str(), 1);
}
