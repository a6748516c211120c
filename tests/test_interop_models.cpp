// Configurations the shared fixtures do not cover (RoPE linear/dynamic/yarn, sliding windows, biases,
// partial rotary, GPT-2's inverse-layer scaling), made by transformers itself in a test-only virtualenv
// (tests/interop/make_model_references.py, run by ctest before this test). Logits within 1e-4.
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/adapters/peft.h"
#include "core/io/tensor_io.h"
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

}  // namespace
}  // namespace lathe
