// A model folder's text interface: tokenizer_config.json, chat templates through the tokenizer, and
// SentencePiece models, against files made by transformers / sentencepiece.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/text/text_tokenizer.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

using test::tokenizer_fixture;

TEST(TextTokenizer, QwenChatReferenceRendersAndEncodesLikeTransformers) {
    TextTokenizer t = TextTokenizer::load(tokenizer_fixture("bytelevel-regex-qwen-hf"));
    std::ifstream in(tokenizer_fixture("bytelevel-regex-qwen-hf") + "/chat_reference.json");
    auto ref = nlohmann::ordered_json::parse(in);
    ASSERT_TRUE(t.has_chat_template());
    std::string prompt = t.apply_chat_template(ref["messages"]);
    EXPECT_EQ(prompt, ref["rendered"].get<std::string>());
    EXPECT_EQ(t.encode(prompt, false).ids, ref["ids"].get<std::vector<int64_t>>());
    EXPECT_EQ(t.eos_id(), 2);  // <|im_end|>
    EXPECT_EQ(t.pad_id(), 0);  // <|endoftext|>
    ChatOptions gen;
    gen.add_generation_prompt = true;
    EXPECT_EQ(t.apply_chat_template(ref["messages"], gen), ref["rendered"].get<std::string>() + "<|im_start|>assistant\n");
}

struct ConfigDir {
    test::TempDir dir;
    ConfigDir(const ConfigDir&) = delete;
    explicit ConfigDir(const nlohmann::json& config, const std::string& jinja = "") {
        fs::copy_file(tokenizer_fixture("bytelevel-regex-qwen-hf") + "/tokenizer.json", dir.path / "tokenizer.json");
        std::ofstream(dir.path / "tokenizer_config.json") << config.dump();
        if (!jinja.empty()) std::ofstream(dir.path / "chat_template.jinja") << jinja;
    }
};

TEST(TokenizerConfig, ReadsTokensTemplatesAndLimits) {
    ConfigDir d(nlohmann::json{{"bos_token", {{"content", "<|im_start|>"}, {"lstrip", false}}},
                 {"eos_token", "<|im_end|>"},
                 {"model_max_length", 4096},
                 {"chat_template", {{{"name", "default"}, {"template", "D{{ messages[0].content }}"}},
                                    {{"name", "tool_use"}, {"template", "T{{ messages[0].content }}"}}}}});
    TokenizerConfig c = read_tokenizer_config(d.dir.str());
    EXPECT_EQ(c.bos_token, "<|im_start|>");
    EXPECT_EQ(c.model_max_length, 4096);
    EXPECT_EQ(c.chat_templates.size(), 2u);
    TextTokenizer t = TextTokenizer::load(d.dir.str());
    auto messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
    EXPECT_EQ(t.apply_chat_template(messages), "Dhi");
    ChatOptions tool;
    tool.template_name = "tool_use";
    EXPECT_EQ(t.apply_chat_template(messages, tool), "Thi");
}

TEST(TokenizerConfig, ChatTemplateJinjaFileWins) {
    ConfigDir d(nlohmann::json{{"chat_template", "from config"}}, "from file {{ bos_token }}");
    TextTokenizer t = TextTokenizer::load(d.dir.str());
    EXPECT_EQ(t.apply_chat_template(nlohmann::ordered_json::array()), "from file ");
}

TEST(TokenizerConfig, NoLimitSentinelAndExplicitBosEos) {
    ConfigDir d(nlohmann::json{{"model_max_length", 1e30}, {"bos_token", "<|im_start|>"}, {"eos_token", "<|im_end|>"},
                 {"add_bos_token", true}, {"add_eos_token", true}});
    EXPECT_FALSE(read_tokenizer_config(d.dir.str()).model_max_length);
    TextTokenizer t = TextTokenizer::load(d.dir.str());
    Encoding plain = t.encode("hello", false), special = t.encode("hello", true);
    ASSERT_EQ(special.ids.size(), plain.ids.size() + 2);
    EXPECT_EQ(special.ids.front(), 1);
    EXPECT_EQ(special.ids.back(), 2);
    EXPECT_EQ(special.special_tokens_mask.front(), 1);
}

TEST(TokenizerConfig, ErrorsNameFileAndKey) {
    ConfigDir wrong_type(nlohmann::json{{"add_bos_token", "yes"}});
    try {
        read_tokenizer_config(wrong_type.dir.str());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("add_bos_token"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
    }
    ConfigDir unknown_token(nlohmann::json{{"eos_token", "<nope>"}});
    try {
        TextTokenizer::load(unknown_token.dir.str());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'<nope>'"), std::string::npos) << e.what();
    }
    ConfigDir no_template(nlohmann::json{{"eos_token", "<|im_end|>"}});
    try {
        TextTokenizer::load(no_template.dir.str()).apply_chat_template(nlohmann::ordered_json::array());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no chat template"), std::string::npos) << e.what();
    }
}

TEST(TextTokenizer, TemplateRaiseReachesTheCaller) {
    ConfigDir d(nlohmann::json{{"eos_token", "<|im_end|>"}}, "{% if messages|length == 0 %}{{ raise_exception('need a message') }}{% endif %}");
    TextTokenizer t = TextTokenizer::load(d.dir.str());
    try {
        t.apply_chat_template(nlohmann::ordered_json::array());
        FAIL();
    } catch (const TemplateRaised& e) {
        EXPECT_STREQ(e.what(), "need a message");
    }
}

// SentencePiece models trained by the sentencepiece package (tests/interop, run by ctest first).
class SentencePieceModel : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        const char* dir = std::getenv("LATHE_INTEROP_REFS");
        if (!dir) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
        folder = std::string(dir) + "/sentencepiece/" + GetParam();
    }
    std::string folder;
};

TEST_P(SentencePieceModel, EncodesAndDecodesLikeSentencePiece) {
    TextTokenizer t = TextTokenizer::load(folder);
    auto refs = read_json_file(folder + "/reference.json");
    ASSERT_GT(refs.size(), 5u);
    for (const auto& r : refs) {
        std::string text = r["text"];
        auto ids = r["ids"].get<std::vector<int64_t>>();
        Encoding plain = t.encode(text, false);
        EXPECT_EQ(plain.ids, ids) << text;
        Encoding special = t.encode(text, true);
        ASSERT_FALSE(special.ids.empty());
        EXPECT_EQ(special.ids.front(), *t.bos_id()) << "add_bos_token";
        EXPECT_EQ(t.decode(ids, true), r["decoded"].get<std::string>()) << text;
        for (size_t i = 0; i < plain.offsets.size(); ++i) EXPECT_LE(plain.offsets[i].second, text.size());
    }
}

INSTANTIATE_TEST_SUITE_P(Trained, SentencePieceModel, ::testing::Values("spm-bpe", "spm-unigram"),
                         [](const auto& info) { return info.param == "spm-bpe" ? std::string("bpe") : std::string("unigram"); });

}  // namespace
}  // namespace lathe
