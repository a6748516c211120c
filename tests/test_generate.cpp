// Generation: sampling processors against their definitions, batching against single prompts,
// stop conditions, and the KV cache against full recomputation.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/argmax.h>
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>

#include <cmath>

#include "core/generate/generate.h"
#include "core/models/loader.h"
#include "core/util/error.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

TEST(Sampling, TopKKeepsTheKLargest) {
    at::Tensor logits = at::tensor(std::vector<float>{1, 5, 3, 4, 2});
    SamplingOptions o;
    o.greedy = false;
    o.top_k = 2;
    at::Tensor w = warp_logits(logits, o);
    EXPECT_TRUE(std::isinf(w[0].item<float>()));
    EXPECT_EQ(w[1].item<float>(), 5);
    EXPECT_EQ(w[3].item<float>(), 4);
    EXPECT_TRUE(std::isinf(w[2].item<float>()));
}

TEST(Sampling, TopPKeepsTheSmallestSetAboveP) {
    // probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.7 keeps the first two.
    at::Tensor logits = at::tensor(std::vector<double>{std::log(0.5), std::log(0.3), std::log(0.15), std::log(0.05)}).to(at::kFloat);
    SamplingOptions o;
    o.greedy = false;
    o.top_p = 0.7;
    at::Tensor w = warp_logits(logits, o);
    EXPECT_FALSE(std::isinf(w[0].item<float>()));
    EXPECT_FALSE(std::isinf(w[1].item<float>()));
    EXPECT_TRUE(std::isinf(w[2].item<float>()));
    EXPECT_TRUE(std::isinf(w[3].item<float>()));
}

TEST(Sampling, RepetitionPenaltyAsTransformers) {
    at::Tensor logits = at::tensor(std::vector<float>{2, -2, 1});
    at::Tensor p = apply_repetition_penalty(logits, {0, 1}, 2.0);
    EXPECT_FLOAT_EQ(p[0].item<float>(), 1.0f);   // positive: divided
    EXPECT_FLOAT_EQ(p[1].item<float>(), -4.0f);  // negative: multiplied
    EXPECT_FLOAT_EQ(p[2].item<float>(), 1.0f);   // unseen: unchanged
}

TEST(Sampling, SameSeedSameTokensOtherSeedDiffers) {
    at::Tensor logits = at::zeros({1000});
    SamplingOptions o;
    o.greedy = false;
    auto draw = [&](uint64_t seed) {
        at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
        std::vector<int64_t> out;
        for (int i = 0; i < 20; ++i) out.push_back(choose_token(logits, {}, o, g));
        return out;
    };
    EXPECT_EQ(draw(7), draw(7));
    EXPECT_NE(draw(7), draw(8));
}

TEST(Sampling, BadOptionsAreErrors) {
    SamplingOptions o;
    o.greedy = false;
    o.temperature = 0;
    EXPECT_THROW(o.validate(), Error);
    o.temperature = 1;
    o.top_p = 1.5;
    EXPECT_THROW(o.validate(), Error);
}

class GenerateOnFixture : public ::testing::Test {
protected:
    void SetUp() override { model = load_model(test::hf_model("qwen3")); }
    std::unique_ptr<LoadedModel> model;
    at::NoGradGuard no_grad;
};

TEST_F(GenerateOnFixture, CachedStepsEqualFullRecomputation) {
    std::vector<int64_t> prompt = {5, 17, 99, 3, 250};
    GenerationOptions o;
    o.max_new_tokens = 6;
    auto tokens = generate(*model->lm, {prompt}, o).tokens[0];
    // Recompute greedily without a cache.
    std::vector<int64_t> seq = prompt;
    for (int i = 0; i < 6; ++i) {
        at::Tensor ids = at::tensor(seq, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
        seq.push_back(at::argmax(model->lm->forward(ids)[0][-1]).item<int64_t>());
    }
    EXPECT_EQ(tokens, std::vector<int64_t>(seq.begin() + 5, seq.end()));
}

TEST_F(GenerateOnFixture, BatchWithPaddingEqualsOneByOne) {
    std::vector<std::vector<int64_t>> prompts = {{5, 17, 99, 3, 250}, {42, 7}, {300, 301, 302}};
    GenerationOptions o;
    o.max_new_tokens = 5;
    auto batched = generate(*model->lm, prompts, o);
    for (size_t i = 0; i < prompts.size(); ++i)
        EXPECT_EQ(batched.tokens[i], generate(*model->lm, {prompts[i]}, o).tokens[0]) << "prompt " << i;
}

TEST_F(GenerateOnFixture, StopsOnEosAndStopSequences) {
    std::vector<int64_t> prompt = {5, 17, 99};
    GenerationOptions o;
    o.max_new_tokens = 6;
    auto free_run = generate(*model->lm, {prompt}, o).tokens[0];
    ASSERT_EQ(free_run.size(), 6u);

    // EOS: the run ends at the first time the EOS token appears, keeping it.
    GenerationOptions eos = o;
    eos.eos_token_ids = {free_run[2]};
    size_t first = std::find(free_run.begin(), free_run.end(), free_run[2]) - free_run.begin();
    auto r = generate(*model->lm, {prompt}, eos);
    EXPECT_EQ(r.finish[0], FinishReason::Eos);
    EXPECT_EQ(r.tokens[0], std::vector<int64_t>(free_run.begin(), free_run.begin() + first + 1));

    // Stop sequence: ends where the output first ends with it.
    GenerationOptions stop = o;
    stop.stop_sequences = {{free_run[1], free_run[2]}};
    size_t end = 2;
    for (; end <= free_run.size(); ++end)
        if (free_run[end - 2] == free_run[1] && free_run[end - 1] == free_run[2]) break;
    r = generate(*model->lm, {prompt}, stop);
    EXPECT_EQ(r.finish[0], FinishReason::StopSequence);
    EXPECT_EQ(r.tokens[0], std::vector<int64_t>(free_run.begin(), free_run.begin() + end));

    // Without any stop condition it runs to the length limit.
    EXPECT_EQ(generate(*model->lm, {prompt}, o).finish[0], FinishReason::Length);
}

TEST_F(GenerateOnFixture, SamplingIsReproducibleForASeed) {
    GenerationOptions o;
    o.max_new_tokens = 10;
    o.sampling.greedy = false;
    o.sampling.temperature = 1.5;
    o.sampling.top_p = 0.95;
    o.sampling.top_k = 50;
    o.sampling.seed = 11;
    auto a = generate(*model->lm, {{1, 2, 3}}, o).tokens[0];
    auto b = generate(*model->lm, {{1, 2, 3}}, o).tokens[0];
    EXPECT_EQ(a, b);
}

TEST_F(GenerateOnFixture, TokenOutsideVocabularyIsAnError) {
    GenerationOptions o;
    EXPECT_THROW(generate(*model->lm, {{1, 100000}}, o), Error);
}

}  // namespace
}  // namespace lathe
