// The fixtures (tests/fixtures/hf/tokenizers): tokenizer.json files trained with the
// tokenizers library and the ids / decoded text it produced.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "core/util/json_file.h"

namespace {

const std::string kDir = std::string(LATHE_FIXTURES) + "/hf/tokenizers/";

class SharedFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(SharedFixture, EncodesAndDecodesLikeTheRustLibrary) {
    const std::string dir = kDir + GetParam();
    auto tok = lathe::Tokenizer::from_file(dir + "/tokenizer.json");
    auto refs = lathe::read_json_file(dir + "/reference.json");
    ASSERT_TRUE(refs.is_array());
    ASSERT_FALSE(refs.empty());
    for (const auto& r : refs) {
        const std::string text = r.at("text").get<std::string>();
        const auto ids = r.at("ids").get<std::vector<int64_t>>();
        // reference.json holds encode(text, add_special_tokens=False); none of these tokenizers has a
        // post-processor that adds tokens, so both settings must give the same ids.
        EXPECT_EQ(tok.encode(text, false).ids, ids) << GetParam() << ": " << text;
        EXPECT_EQ(tok.encode(text, true).ids, ids) << GetParam() << ": " << text;
        if (r.contains("decoded")) {
            EXPECT_EQ(tok.decode(ids, false), r.at("decoded").get<std::string>()) << GetParam() << ": " << text;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, SharedFixture,
                         ::testing::Values("bytelevel-gpt2", "bytelevel-regex-qwen",
                                           "metaspace-bytefallback-llama2", "wordpiece-bert"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

// bytelevel-regex-qwen-hf has no reference.json of its own: it is bytelevel-regex-qwen saved through
// transformers, so the same references must hold.
TEST(SharedFixture, HfCopyMatchesTheOriginalReferences) {
    auto tok = lathe::Tokenizer::from_file(kDir + "bytelevel-regex-qwen-hf/tokenizer.json");
    auto refs = lathe::read_json_file(kDir + "bytelevel-regex-qwen/reference.json");
    for (const auto& r : refs) {
        const std::string text = r.at("text").get<std::string>();
        EXPECT_EQ(tok.encode(text, false).ids, r.at("ids").get<std::vector<int64_t>>()) << text;
        EXPECT_EQ(tok.decode(r.at("ids").get<std::vector<int64_t>>(), false), r.at("decoded").get<std::string>());
    }
}

TEST(SharedFixture, ChatPromptEncodesToTheReferenceIds) {
    const std::string dir = kDir + "bytelevel-regex-qwen-hf";
    auto tok = lathe::Tokenizer::from_file(dir + "/tokenizer.json");
    auto ref = lathe::read_json_file(dir + "/chat_reference.json");
    const std::string rendered = ref.at("rendered").get<std::string>();
    const auto ids = ref.at("ids").get<std::vector<int64_t>>();
    EXPECT_EQ(tok.encode(rendered, true).ids, ids);
    EXPECT_EQ(tok.decode(ids, false), rendered);
    // tokenizer_config.json names the special tokens; they must be single added tokens.
    auto config = lathe::read_json_file(dir + "/tokenizer_config.json");
    for (const char* key : {"eos_token", "pad_token"}) {
        auto id = tok.token_to_id(config.at(key).get<std::string>());
        ASSERT_TRUE(id.has_value()) << key;
        EXPECT_EQ(tok.encode(config.at(key).get<std::string>(), true).ids, std::vector<int64_t>{*id});
    }
}

TEST(SharedFixture, SkippingSpecialTokensDropsThem) {
    auto tok = lathe::Tokenizer::from_file(kDir + "bytelevel-regex-qwen/tokenizer.json");
    auto ids = tok.encode("<|im_start|>user\nhi<|im_end|>", false).ids;
    EXPECT_EQ(tok.decode(ids, true), "user\nhi");
}

}  // namespace
