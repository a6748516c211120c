// Every fixture model against the outputs Hugging Face transformers produced for it (float32, CPU).
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/generate/generate.h"
#include "core/io/tensor_io.h"
#include "core/models/loader.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

using test::max_abs_diff;

class CausalModelExact : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        reference = load_safetensors(test::hf_model(GetParam()) + "/reference.safetensors");
        model = load_model(test::hf_model(GetParam()));
        ASSERT_TRUE(model->lm);
    }
    std::map<std::string, at::Tensor> reference;
    std::unique_ptr<LoadedModel> model;
    at::NoGradGuard no_grad;
};

TEST_P(CausalModelExact, LogitsMatchTransformers) {
    at::Tensor logits = model->lm->forward(reference.at("input_ids"));
    EXPECT_LT(max_abs_diff(logits, reference.at("logits")), 1e-4);
}

TEST_P(CausalModelExact, LossMatchesTransformers) {
    at::Tensor logits = model->lm->forward(reference.at("input_ids"));
    at::Tensor loss = causal_lm_loss(logits, reference.at("labels"));
    EXPECT_NEAR(loss.item<double>(), reference.at("loss").item<double>(), 1e-5);
}

TEST_P(CausalModelExact, MaskedLogitsMatchOnRealTokens) {
    at::Tensor mask = reference.at("attention_mask");
    ASSERT_FALSE(mask.all().item<bool>()) << "fixture should have a left-padded row";
    at::Tensor logits = model->lm->forward(reference.at("input_ids"), mask);
    at::Tensor real = mask.to(at::kBool);
    at::Tensor ours = logits.index({real}), theirs = reference.at("logits_masked").index({real});
    EXPECT_LT(max_abs_diff(ours, theirs), 1e-4);
    EXPECT_FALSE(logits.isnan().any().item<bool>()) << "padding positions must not produce NaN";
}

TEST_P(CausalModelExact, GreedyContinuationMatches) {
    at::Tensor greedy = reference.at("greedy");  // [1, 16]: 8 prompt ids, then 8 generated
    std::vector<int64_t> prompt(greedy.data_ptr<int64_t>(), greedy.data_ptr<int64_t>() + 8);
    std::vector<int64_t> expected(greedy.data_ptr<int64_t>() + 8, greedy.data_ptr<int64_t>() + 16);
    GenerationOptions options;
    options.max_new_tokens = 8;  // transformers' generate stopped only at the length limit here
    GenerationResult r = generate(*model->lm, {prompt}, options);
    EXPECT_EQ(r.tokens[0], expected);
}

TEST_P(CausalModelExact, TransformersV4ConfigGivesTheSameModel) {
    // Same weights, config in the 4.x layout (top-level rope_theta, rope_scaling, torch_dtype).
    test::TempDir dir;
    auto src = std::filesystem::path(test::hf_model(GetParam()));
    std::filesystem::copy_file(src / "config.transformers4.json", dir.path / "config.json");
    std::filesystem::create_symlink(src / "model.safetensors", dir.path / "model.safetensors");
    auto v4 = load_model(dir.str());
    at::Tensor logits = v4->lm->forward(reference.at("input_ids"));
    EXPECT_LT(max_abs_diff(logits, reference.at("logits")), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CausalModelExact, ::testing::ValuesIn(test::causal_models()),
                         [](const auto& info) {
                             std::string name = info.param;
                             for (char& c : name) if (c == '-') c = '_';
                             return name;
                         });

TEST(BertExact, ClassificationLogitsMatchTransformers) {
    at::NoGradGuard no_grad;
    auto reference = load_safetensors(test::hf_model("bert-cls") + "/reference.safetensors");
    auto model = load_model(test::hf_model("bert-cls"));
    ASSERT_TRUE(model->classifier);
    at::Tensor logits = model->classifier->forward(reference.at("input_ids"), reference.at("attention_mask"),
                                                   reference.at("token_type_ids"));
    ASSERT_EQ(logits.sizes(), reference.at("logits").sizes());
    EXPECT_LT(max_abs_diff(logits, reference.at("logits")), 1e-4);
}

}  // namespace
}  // namespace lathe
