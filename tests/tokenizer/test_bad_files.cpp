// Malformed tokenizer.json files: the error names the file and the component.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

namespace {

using nlohmann::json;

json small_bpe() {
    return json::parse(R"({
      "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
      "normalizer": null, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
      "post_processor": null, "decoder": {"type": "ByteLevel"},
      "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}
    })");
}

std::string error_of(const json& j) {
    try {
        lathe::Tokenizer::from_json(j, "tokenizer.json");
    } catch (const lathe::Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(BadFiles, SmallBpeLoads) {
    auto tok = lathe::Tokenizer::from_json(small_bpe(), "tokenizer.json");
    EXPECT_EQ(tok.encode("ab", false).ids, (std::vector<int64_t>{2}));
    EXPECT_EQ(tok.encode("ba", false).ids, (std::vector<int64_t>{1, 0}));
}

TEST(BadFiles, UnknownPreTokenizerType) {
    auto j = small_bpe();
    j["pre_tokenizer"] = {{"type", "Foo"}};
    EXPECT_EQ(error_of(j), "tokenizer.json: pre_tokenizer: unknown type 'Foo'");
}

TEST(BadFiles, UnknownTypeInsideASequence) {
    auto j = small_bpe();
    j["normalizer"] = json::parse(R"({"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Bar"}]})");
    EXPECT_EQ(error_of(j), "tokenizer.json: normalizer.normalizers[1]: unknown type 'Bar'");
}

TEST(BadFiles, UnknownModelAndDecoderTypes) {
    auto j = small_bpe();
    j["decoder"] = {{"type", "Nope"}};
    EXPECT_EQ(error_of(j), "tokenizer.json: decoder: unknown type 'Nope'");
    j = small_bpe();
    j["model"]["type"] = "Magic";
    EXPECT_EQ(error_of(j), "tokenizer.json: model: unknown type 'Magic'");
    j = small_bpe();
    j["post_processor"] = {{"type", "Zap"}};
    EXPECT_EQ(error_of(j), "tokenizer.json: post_processor: unknown type 'Zap'");
}

TEST(BadFiles, MissingVocab) {
    auto j = small_bpe();
    j["model"].erase("vocab");
    EXPECT_EQ(error_of(j), "tokenizer.json: model: missing 'vocab'");
    j = small_bpe();
    j.erase("model");
    EXPECT_EQ(error_of(j), "tokenizer.json: missing 'model'");
}

TEST(BadFiles, MergeNamesUnknownToken) {
    auto j = small_bpe();
    j["model"]["merges"] = {"a b", "x y"};
    EXPECT_EQ(error_of(j), "tokenizer.json: model.merges[1]: names unknown token 'x'");
    j["model"]["merges"] = json::parse(R"([["a", "b"], ["a", "zz"]])");
    EXPECT_EQ(error_of(j), "tokenizer.json: model.merges[1]: names unknown token 'zz'");
}

TEST(BadFiles, DropoutIsRejected) {
    auto j = small_bpe();
    j["model"]["dropout"] = 0.1;
    EXPECT_EQ(error_of(j), "tokenizer.json: model.dropout: BPE dropout must be null or 0 for inference");
}

TEST(BadFiles, BadRegexNamesTheComponent) {
    auto j = small_bpe();
    j["pre_tokenizer"] = json::parse(R"({"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false})");
    EXPECT_NE(error_of(j).find("tokenizer.json: pre_tokenizer.pattern: invalid regex '(unclosed'"), std::string::npos)
        << error_of(j);
}

TEST(BadFiles, PrecompiledIsExplained) {
    auto j = small_bpe();
    j["normalizer"] = json::parse(R"({"type": "Precompiled", "precompiled_charsmap": "AAAA"})");
    EXPECT_NE(error_of(j).find("tokenizer.json: normalizer: the Precompiled normalizer"), std::string::npos);
}

TEST(BadFiles, NotJson) {
    auto path = std::filesystem::temp_directory_path() / "lathe_tok_not_json.json";
    {
        std::ofstream f(path);
        f << "{\"model\": [1, 2,";
    }
    try {
        lathe::Tokenizer::from_file(path.string());
        FAIL() << "no error";
    } catch (const lathe::Error& e) {
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    std::filesystem::remove(path);
}

TEST(BadFiles, MissingFile) {
    EXPECT_THROW(lathe::Tokenizer::from_file("/nonexistent/tokenizer.json"), lathe::Error);
}

}  // namespace

namespace {

TEST(BadFiles, VocabIdOutOfRange) {
    auto j = small_bpe();
    j["model"]["vocab"]["zz"] = -3;
    EXPECT_EQ(error_of(j), "tokenizer.json: model.vocab: token 'zz' has id -3 out of range");
    j["model"]["vocab"]["zz"] = int64_t{1} << 40;
    EXPECT_NE(error_of(j).find("out of range"), std::string::npos);
}

TEST(BadFiles, BadAddedTokenAndTemplate) {
    auto j = small_bpe();
    j["added_tokens"] = json::parse(R"([{"id": 3, "special": true}])");
    EXPECT_EQ(error_of(j), "tokenizer.json: added_tokens[0]: missing 'content'");
    j = small_bpe();
    j["post_processor"] = json::parse(R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {}})");
    EXPECT_EQ(error_of(j), "tokenizer.json: post_processor.single[0]: special token '<s>' is not in special_tokens");
}

TEST(BadFiles, WrongFieldTypes) {
    auto j = small_bpe();
    j["model"]["byte_fallback"] = "yes";
    EXPECT_EQ(error_of(j), "tokenizer.json: model.byte_fallback: expected true or false, got string");
    j = small_bpe();
    j["model"]["merges"] = json::parse(R"([["a"]])");
    EXPECT_EQ(error_of(j), "tokenizer.json: model.merges[0]: expected \"a b\" or [\"a\", \"b\"]");
    j = small_bpe();
    j["pre_tokenizer"] = json::parse(R"({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"})");
    EXPECT_EQ(error_of(j), "tokenizer.json: pre_tokenizer.behavior: unknown behavior '\"Sideways\"'");
}

}  // namespace
