// The `lathe` executable end to end, as a user's script runs it.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>
#include <nlohmann/json.hpp>

#include "core/io/tensor_io.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

struct CliResult {
    int code;
    std::string output;  // stdout and stderr
};

CliResult run_cli(const std::string& args) {
    std::string cmd = std::string(LATHE_CLI) + " " + args + " 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
    int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The version comes from CMake's PROJECT_VERSION, the one place it is written.
TEST(Cli, VersionIsTheProjectVersion) {
    auto r = run_cli("--version");
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.output, std::string("lathe ") + LATHE_PROJECT_VERSION + "\n");
}

TEST(Cli, InfoDescribesAModel) {
    CliResult r = run_cli("info " + test::hf_model("qwen3"));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("Qwen3"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("float32"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("106880"), std::string::npos) << r.output;
}

TEST(Cli, InfoJson) {
    CliResult r = run_cli("info --json " + test::hf_model("gpt2"));
    ASSERT_EQ(r.code, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["model_type"], "gpt2");
    EXPECT_EQ(j["parameters"], 149248);
}

TEST(Cli, LogitsMatchTheReference) {
    test::TempDir dir;
    auto ref = load_safetensors(test::hf_model("phi3") + "/reference.safetensors");
    // Without a mask: the plain forward.
    save_safetensors(dir.str() + "/in.safetensors", {{"input_ids", ref.at("input_ids")}});
    CliResult r = run_cli("logits --model " + test::hf_model("phi3") + " --input " + dir.str() + "/in.safetensors --out " + dir.str() + "/out.safetensors");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_LT(test::max_abs_diff(load_safetensors(dir.str() + "/out.safetensors").at("logits"), ref.at("logits")), 1e-4);
    // With attention_mask (the reference file has one): matches transformers' masked forward on real tokens.
    r = run_cli("logits --model " + test::hf_model("phi3") + " --input " + test::hf_model("phi3") + "/reference.safetensors --out " + dir.str() + "/masked.safetensors");
    ASSERT_EQ(r.code, 0) << r.output;
    at::Tensor real = ref.at("attention_mask").to(at::kBool);
    at::Tensor masked = load_safetensors(dir.str() + "/masked.safetensors").at("logits");
    EXPECT_LT(test::max_abs_diff(masked.index({real}), ref.at("logits_masked").index({real})), 1e-4);
}

TEST(Cli, LogitsWithAdapterMergedAndNot) {
    test::TempDir dir;
    std::string adapter = test::hf_adapter("gemma-dora");
    auto ref = load_safetensors(adapter + "/reference.safetensors");
    CliResult r = run_cli("logits --model " + test::hf_model("gemma") + " --adapter " + adapter + " --input " + adapter +
                "/reference.safetensors --out " + dir.str() + "/a.safetensors");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_LT(test::max_abs_diff(load_safetensors(dir.str() + "/a.safetensors").at("logits"), ref.at("logits")), 1e-4);
    r = run_cli("logits --merge --model " + test::hf_model("gemma") + " --adapter " + adapter + " --input " + adapter +
            "/reference.safetensors --out " + dir.str() + "/m.safetensors");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_LT(test::max_abs_diff(load_safetensors(dir.str() + "/m.safetensors").at("logits"), ref.at("merged_logits")), 1e-4);
}

TEST(Cli, BertLogits) {
    test::TempDir dir;
    std::string ref = test::hf_model("bert-cls") + "/reference.safetensors";
    CliResult r = run_cli("logits --model " + test::hf_model("bert-cls") + " --input " + ref + " --out " + dir.str() + "/b.safetensors");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_LT(test::max_abs_diff(load_safetensors(dir.str() + "/b.safetensors").at("logits"), load_safetensors(ref).at("logits")), 1e-4);
}

TEST(Cli, GenerateGreedyMatchesTransformers) {
    auto greedy = load_safetensors(test::hf_model("llama3-rope-scaled") + "/reference.safetensors").at("greedy");
    std::string prompt;
    for (int i = 0; i < 8; ++i) prompt += std::to_string(greedy[0][i].item<int64_t>()) + " ";
    CliResult r = run_cli("generate --model " + test::hf_model("llama3-rope-scaled") + " --greedy --max-new-tokens 8 --prompt \"" + prompt + "\"");
    ASSERT_EQ(r.code, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    std::vector<int64_t> expected;
    for (int i = 8; i < 16; ++i) expected.push_back(greedy[0][i].item<int64_t>());
    EXPECT_EQ(j["tokens"].get<std::vector<int64_t>>(), expected);
}

using test::tokenizer_fixture;

TEST(Cli, TokenizeAndDetokenize) {
    auto refs = nlohmann::json::parse(std::ifstream(tokenizer_fixture("bytelevel-gpt2") + "/reference.json"));
    const std::string text = refs[0]["text"], expected = refs[0]["ids"].dump();
    CliResult r = run_cli("tokenize --tokenizer " + tokenizer_fixture("bytelevel-gpt2") + " --text '" + text + "'");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, expected + "\n");
    r = run_cli("detokenize --tokenizer " + tokenizer_fixture("bytelevel-gpt2") + " --ids '" + expected + "'");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, refs[0]["decoded"].get<std::string>() + "\n");

    test::TempDir dir;
    std::ofstream(dir.str() + "/in.jsonl") << nlohmann::json{{"text", refs[0]["text"]}}.dump() << "\n"
                                           << nlohmann::json{{"text", refs[1]["text"]}}.dump() << "\n";
    r = run_cli("tokenize --tokenizer " + tokenizer_fixture("bytelevel-gpt2") + " --file " + dir.str() + "/in.jsonl");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, refs[0]["ids"].dump() + "\n" + refs[1]["ids"].dump() + "\n");
    std::ofstream(dir.str() + "/ids.jsonl") << r.output;
    r = run_cli("detokenize --tokenizer " + tokenizer_fixture("bytelevel-gpt2") + " --file " + dir.str() + "/ids.jsonl");
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string expected_texts = nlohmann::json{{"text", refs[0]["decoded"]}}.dump() + "\n" + nlohmann::json{{"text", refs[1]["decoded"]}}.dump() + "\n";
    EXPECT_EQ(r.output, expected_texts);

    std::ofstream(dir.str() + "/bad.jsonl") << "{\"text\": \"ok\"}\n{\"txt\": 1}\n";
    r = run_cli("tokenize --tokenizer " + tokenizer_fixture("bytelevel-gpt2") + " --file " + dir.str() + "/bad.jsonl");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("bad.jsonl:2:"), std::string::npos) << r.output;
}

TEST(Cli, ChatTemplateRendersLikeTransformers) {
    std::string dir = tokenizer_fixture("bytelevel-regex-qwen-hf");
    auto ref = nlohmann::json::parse(std::ifstream(dir + "/chat_reference.json"));
    test::TempDir tmp;
    std::ofstream(tmp.str() + "/m.json") << ref["messages"].dump();
    CliResult r = run_cli("chat-template --tokenizer " + dir + " --messages " + tmp.str() + "/m.json");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, ref["rendered"].get<std::string>());
    r = run_cli("chat-template --ids --tokenizer " + dir + " --messages " + tmp.str() + "/m.json");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, ref["ids"].dump() + "\n");
    r = run_cli("chat-template --add-generation-prompt --tokenizer " + dir + " --messages " + tmp.str() + "/m.json");
    EXPECT_EQ(r.output, ref["rendered"].get<std::string>() + "<|im_start|>assistant\n");
}

TEST(Cli, GenerateTakesTextWhenTheModelHasATokenizer) {
    test::TempDir dir;
    std::string model = test::model_with_tokenizer(dir);
    CliResult r = run_cli("generate --model " + model + " --greedy --max-new-tokens 6 --prompt 'Hello there'");
    ASSERT_EQ(r.code, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["prompt"], "Hello there");
    EXPECT_EQ(j["tokens"].size(), 6u);
    CliResult decoded = run_cli("detokenize --skip-special-tokens --tokenizer " + model + " --ids '" + j["tokens"].dump() + "'");
    EXPECT_EQ(decoded.output, j["text"].get<std::string>() + "\n");
    CliResult ids = run_cli("tokenize --tokenizer " + model + " --add-special-tokens --text 'Hello there'");
    EXPECT_EQ(ids.output, j["prompt_tokens"].dump() + "\n");

    r = run_cli("generate --model " + model + " --chat --greedy --max-new-tokens 4 --prompt 'Hi'");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(nlohmann::json::parse(r.output)["prompt"], "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Cli, GenerateStreamsTokensThenTheSameResult) {
    test::TempDir dir;
    std::string model = test::model_with_tokenizer(dir);
    const std::string args = "generate --model " + model + " --greedy --max-new-tokens 8 --prompt 'Hello there'";
    CliResult plain = run_cli(args);
    CliResult streamed = run_cli(args + " --stream");
    ASSERT_EQ(streamed.code, 0) << streamed.output;
    std::istringstream lines(streamed.output);
    std::vector<nlohmann::json> events;
    for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(events.size(), 9u) << streamed.output;  // 8 tokens, then the result
    EXPECT_EQ(events.back().dump() + "\n", plain.output);  // the result line is unchanged
    std::string text;
    for (size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(events[i]["token"], events.back()["tokens"][i]);
        text += events[i]["text"].get<std::string>();
    }
    EXPECT_EQ(text, events.back()["text"].get<std::string>());
}

TEST(Cli, ErrorsAreClearAndExitNonZero) {
    CliResult r = run_cli("info /nonexistent/model");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("/nonexistent/model"), std::string::npos) << r.output;
    r = run_cli("generate --model " + test::hf_model("llama") + " --prompt \"hello world\"");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("'hello'"), std::string::npos) << r.output;
    r = run_cli("logits --model " + test::hf_model("llama"));
    EXPECT_EQ(r.code, 2) << r.output;  // usage
}

}  // namespace
}  // namespace lathe
