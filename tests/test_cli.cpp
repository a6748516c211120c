// The `lathe` executable end to end, as a user's script runs it.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
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
