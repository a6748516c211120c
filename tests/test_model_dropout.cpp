// The base model's own dropout in training mode (ModelConfig::dropout, TrainConfig::base_model_dropout),
// against transformers' train mode. Masks are random, so the comparison is over seeds: the mean and the
// spread of the training-mode loss, which move when a dropout is missing, misplaced or at the wrong rate.
#include <ATen/core/grad_mode.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/io/tensor_io.h"
#include "core/models/decoder_lm.h"
#include "core/models/loader.h"
#include "core/util/json_file.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

double loss_of(const DecoderLM& lm, const at::Tensor& ids, bool training) {
    return causal_lm_loss(lm.logits(lm.hidden_states(ids, {}, {}, nullptr, training)), ids).item<double>();
}

struct Spread {
    double mean = 0, sd = 0;
};

Spread spread_of(const std::vector<double>& xs) {
    Spread s;
    s.mean = std::accumulate(xs.begin(), xs.end(), 0.0) / static_cast<double>(xs.size());
    for (double x : xs) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(s.sd / static_cast<double>(xs.size() - 1));
    return s;
}

TEST(BaseModelDropout, ReadFromTheConfigAsTransformersDefaultsThem) {
    auto gpt2 = load_model(test::hf_model("gpt2"));
    EXPECT_DOUBLE_EQ(gpt2->config.dropout.embedding, 0.1);
    EXPECT_DOUBLE_EQ(gpt2->config.dropout.attention, 0.1);
    EXPECT_DOUBLE_EQ(gpt2->config.dropout.residual, 0.1);
    auto llama = load_model(test::hf_model("llama"));
    EXPECT_DOUBLE_EQ(llama->config.dropout.attention, 0.0);
    EXPECT_DOUBLE_EQ(llama->config.dropout.residual, 0.0);  // Llama has no residual dropout at all
}

TEST(BaseModelDropout, OnlyTrainingModeDropsAndOffMeansNone) {
    at::NoGradGuard no_grad;
    auto model = load_model(test::hf_model("gpt2"));
    at::Tensor ids = load_safetensors(test::hf_model("gpt2") + "/reference.safetensors").at("input_ids");
    const double eval = loss_of(*model->lm, ids, false);
    at::manual_seed(1);
    const double a = loss_of(*model->lm, ids, true);
    at::manual_seed(2);
    const double b = loss_of(*model->lm, ids, true);
    EXPECT_NE(a, eval);
    EXPECT_NE(a, b);
    model->lm->config.dropout = {};  // what `base_model_dropout: false` does
    at::manual_seed(1);
    EXPECT_EQ(loss_of(*model->lm, ids, true), eval);
}

TEST(BaseModelDropout, LossOverSeedsMatchesTransformersTrainMode) {
    const char* refs = std::getenv("LATHE_INTEROP_REFS");
    if (!refs || !*refs) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const std::string dir = std::string(refs) + "/dropout";
    auto ref = read_json_file(dir + "/losses.json");
    at::NoGradGuard no_grad;
    for (const auto& [name, c] : ref.at("cases").items()) {
        SCOPED_TRACE(name);
        auto model = load_model(dir + "/" + name);
        at::Tensor ids = load_safetensors(dir + "/" + name + "/reference.safetensors").at("input_ids");
        EXPECT_NEAR(loss_of(*model->lm, ids, false), c.at("eval_loss").get<double>(), 1e-4);
        auto theirs = c.at("train_losses").get<std::vector<double>>();
        std::vector<double> ours;
        for (size_t seed = 0; seed < theirs.size(); ++seed) {
            at::manual_seed(seed);
            ours.push_back(loss_of(*model->lm, ids, true));
        }
        const Spread t = spread_of(theirs), o = spread_of(ours);
        const double n = static_cast<double>(theirs.size());
        const double se = std::sqrt(t.sd * t.sd / n + o.sd * o.sd / n);
        std::cout << name << ": transformers mean " << t.mean << " sd " << t.sd << ", Lathe mean " << o.mean << " sd " << o.sd
                  << " (eval " << c.at("eval_loss").get<double>() << ")\n";
        EXPECT_LT(std::abs(o.mean - t.mean), 4 * se);  // 4 standard errors: a false alarm about once in 15,000 runs
        // The spread comes from the dropouts alone; over 400 seeds its estimate is good to ~4%.
        EXPECT_GT(o.sd, 0.8 * t.sd);
        EXPECT_LT(o.sd, 1.25 * t.sd);
    }
}

}  // namespace
}  // namespace lathe
