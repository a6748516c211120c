// Configurations the shared fixtures do not cover (RoPE linear/dynamic/yarn, sliding windows, biases,
// partial rotary, GPT-2's inverse-layer scaling), made by transformers itself in a test-only virtualenv
// (tests/interop/make_model_references.py, run by ctest before this test). Logits within 1e-4.
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <tuple>
#include <filesystem>

#include "core/adapters/peft.h"
#include "core/io/tensor_io.h"
#include "core/train/adamw.h"
#include "core/train/lora.h"
#include "core/train/train_step.h"
#include "core/models/loader.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

std::string refs_dir() {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    return dir ? dir : "";
}

class InteropModel : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (refs_dir().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    }
    at::NoGradGuard no_grad;
};

TEST_P(InteropModel, LogitsMatchTransformers) {
    std::string dir = refs_dir() + "/models/" + GetParam();
    ASSERT_TRUE(std::filesystem::exists(dir + "/reference.safetensors")) << dir;
    auto ref = load_safetensors(dir + "/reference.safetensors");
    auto model = load_model(dir);
    at::Tensor logits = model->lm->forward(ref.at("input_ids"));
    EXPECT_LT(test::max_abs_diff(logits, ref.at("logits")), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Transformers, InteropModel,
                         ::testing::Values("llama-linear", "llama-dynamic", "llama-yarn", "qwen2-yarn", "llama-bias",
                                           "mistral-sliding", "phi3-partial", "gpt2-inverse-layer"),
                         [](const auto& info) {
                             std::string name = info.param;
                             for (char& c : name) if (c == '-') c = '_';
                             return name;
                         });

TEST(InteropAdapter, ModulesToSaveLoadLikePeft) {
    // A peft LoRA adapter that also saved lm_head whole (modules_to_save), and peft's logits for it.
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    std::string dir = refs_dir() + "/models/llama-lora-modules-to-save";
    auto ref = load_safetensors(dir + "/reference.safetensors");
    at::NoGradGuard no_grad;
    auto model = load_model(test::hf_model("llama"));
    attach_peft_adapter(*model, dir);
    EXPECT_EQ(model->saved_modules, std::vector<std::string>{"lm_head.weight"});
    EXPECT_LT(test::max_abs_diff(model->lm->forward(ref.at("input_ids")), ref.at("logits")), 1e-4);
}

// Adapters Lathe trains and saves, loaded by peft itself (tests/interop/peft_logits.py): the logits
// must agree within 1e-4. Covers LoRA, DoRA, and GPT-2's Conv1D layout (fan_in_fan_out).
class PeftLoadsOurAdapter : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(PeftLoadsOurAdapter, SameLogits) {
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which sets up the venv";
    const auto& [name, dora] = GetParam();
    auto model = load_model(test::hf_model(name));
    LoraOptions options;
    options.r = 4;
    options.alpha = 8;
    options.dora = dora;
    options.target_modules = {"all-linear"};
    add_lora(*model, options, 11);
    auto params = make_lora_trainable(*model);
    ParamGroup group{.name = "lora", .params = {}, .lr_scale = 1.0, .weight_decay = 0.0};
    for (auto& [_, p] : params) group.params.push_back(p);
    AdamW optimizer({group}, AdamWOptions{});
    auto rows = read_pretokenized_jsonl(test::fixtures() + "/hf/training/llama/train.jsonl");
    for (int step = 0; step < 3; ++step) {  // trained, so B is far from zero
        forward_backward(*model, {collate(rows, 0)});
        optimizer.step(0.02);
        optimizer.zero_grad();
    }
    test::TempDir dir;
    save_peft_adapter(*model, peft_config_for(*model, options, test::hf_model(name)), dir.str() + "/adapter");
    auto ref = load_safetensors(test::hf_model(name) + "/reference.safetensors");
    save_safetensors(dir.str() + "/in.safetensors", {{"input_ids", ref.at("input_ids")}});

    std::string cmd = std::string(LATHE_SOURCE_DIR) + "/.venv-interop/bin/python " + LATHE_SOURCE_DIR + "/tests/interop/peft_logits.py " +
                      test::hf_model(name) + " " + dir.str() + "/adapter " + dir.str() + "/in.safetensors " + dir.str() + "/out.safetensors 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    at::Tensor theirs = load_safetensors(dir.str() + "/out.safetensors").at("logits");
    at::NoGradGuard no_grad;
    at::Tensor ours = model->lm->forward(ref.at("input_ids"));
    EXPECT_GT(test::max_abs_diff(ours, ref.at("logits")), 1e-3) << "the adapter should change the output";
    EXPECT_LT(test::max_abs_diff(ours, theirs), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Peft, PeftLoadsOurAdapter,
                         ::testing::Values(std::make_tuple("llama", false), std::make_tuple("qwen2", true), std::make_tuple("gpt2", false),
                                           std::make_tuple("gpt2", true)),
                         [](const auto& info) {
                             return std::get<0>(info.param) + (std::get<1>(info.param) ? "_dora" : "_lora");
                         });

}  // namespace
}  // namespace lathe
