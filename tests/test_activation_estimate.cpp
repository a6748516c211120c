// The memory estimate's activation term (layer_activations.h, through estimate_training_memory) against
// what the layers really keep for backward, counted from the CPU allocator by the code `lathe bench train
// --saved-bytes` runs (core/train/saved_bytes.h): the bench's tiny shape through the command itself, and
// the fixture models (every architecture we load: separate and fused q/k/v, gated, fused gate_up and
// plain MLPs, RMSNorm, Gemma's, qk-norm and LayerNorm, GPT-2's own dropouts) with their PEFT adapters'
// targets (and DoRA's on Llama) and in full finetuning (which GPT-2 does not support yet), with the fused
// ops and the composites, in float32 and bfloat16.
//
// The tolerance, 0.5% of the measured bytes: the estimate models every tensor the ops keep per token, per
// row (1/rms, logsumexp, LayerNorm's statistics) and per layer (bfloat16 copies of the float32 adapter
// weights, DoRA's scales, the composite Gemma norm's 1 + weight), and equals the measurement on every case
// here when written. The margin is for what a LibTorch update may change in an op's bookkeeping without
// changing what the estimate is for (a per-layer buffer of a few hundred bytes is 0.1-0.5% at these
// lengths); a tensor per token left out or counted twice is 1-50% and fails.
//
// The fused LoRA ops' dropout on the CPU: the estimate counts the mask as bits (1/8 byte an element of
// each adapter's input); a build that still redraws the mask from a generator copy keeps none of that,
// so there the measurement may fall short by exactly that term.
#include <gtest/gtest.h>

#include <ATen/ops/ones_like.h>
#include <ATen/ops/randint.h>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <nlohmann/json.hpp>

#include "core/adapters/peft.h"
#include "core/cli/commands.h"
#include "core/models/config.h"
#include "core/models/loader.h"
#include "core/train/lora.h"
#include "core/train/memory_estimate.h"
#include "core/train/saved_bytes.h"
#include "core/train/train_checkpoint.h"
#include "kernels/fused_ops_setting.h"

namespace lathe {
namespace {

const std::string kFixtures = LATHE_FIXTURES "/hf";
constexpr double kTolerance = 0.005;


void expect_estimate_matches(double estimate, double measured, const std::string& what) {
    EXPECT_LE(std::abs(estimate - measured), kTolerance * measured) << what << ": estimate " << estimate << " bytes per token per layer, measured "
                                                                    << measured;
}

// `lathe bench train --saved-bytes --shape tiny` in this process, as docs/performance.md runs it on the
// Qwen2.5-0.5B shape: its measured bytes against the estimate it prints beside them (one layer's share as
// estimate_training_memory multiplies it out).
TEST(ActivationEstimate, TinyShapeAsTheBenchMeasuresIt) {
    for (bool fused : {true, false}) {
        const kernels::ScopedFusedOps setting(fused);
        for (const std::string dtype : {"float32", "bfloat16"}) {
            for (double dropout : {0.0, 0.05}) {
                for (bool checkpointing : dropout > 0 ? std::vector<bool>{false} : std::vector<bool>{false, true}) {
                    BenchTrainCommand cmd;
                    cmd.shape = "tiny";
                    cmd.layers = 3;
                    cmd.device = "cpu";
                    cmd.dtype = dtype;
                    cmd.micro_batch = 1;
                    cmd.seq = 256;
                    cmd.lora_r = 16;
                    cmd.lora_dropout = dropout;
                    cmd.gradient_checkpointing = checkpointing;
                    cmd.saved_bytes = true;
                    std::ostringstream out;
                    run_bench_train(cmd, out);
                    const nlohmann::json j = nlohmann::json::parse(out.str());
                    ASSERT_EQ(j["fused_ops"].get<bool>(), fused);
                    expect_estimate_matches(j["estimate_bytes_per_token_per_layer"].get<double>(), j["saved_bytes_per_token_per_layer"].get<double>(),
                                            (fused ? "fused " : "composite ") + dtype + " dropout " + std::to_string(dropout) +
                                                      (checkpointing ? " checkpointing" : ""));
                }
            }
        }
    }
}

struct FixtureCase {
    std::string model;
    std::string adapter;  // "lora" or "dora": the targets and rank of the fixture's PEFT adapter; "": full finetuning
};

class ActivationEstimateFixture : public ::testing::TestWithParam<FixtureCase> {};

// estimate_training_memory's activations, per token and per layer, against the bytes the fixture model
// keeps in a training forward of 128 tokens on the CPU.
TEST_P(ActivationEstimateFixture, EstimateMatchesTheBytesKept) {
    const FixtureCase& fc = GetParam();
    const std::string model_dir = kFixtures + "/models/" + fc.model;
    const bool full_finetuning = fc.adapter.empty();
    const std::string adapter_dir = kFixtures + "/adapters/" + fc.model + "-" + fc.adapter;
    const ModelConfig config = read_model_config(model_dir);
    const int64_t seq = 64;
    for (bool fused : {true, false}) {
        const kernels::ScopedFusedOps setting(fused);
        for (bool bf16 : {false, true}) {
            for (double dropout : full_finetuning ? std::vector<double>{0.0} : std::vector<double>{0.0, 0.1}) {
                TrainConfig c;
                c.base_model = model_dir;
                c.device = "cpu";
                c.micro_batch_size = 1;
                c.sequence_len = seq;
                LoadOptions options;
                if (bf16) options.dtype = at::kBFloat16;
                auto model = load_model(model_dir, options);
                if (full_finetuning) {
                    make_full_trainable(*model);
                } else {
                    LoraOptions lora = lora_options_of(read_peft_config(adapter_dir));
                    lora.dropout = dropout;
                    add_lora(*model, lora, 0);
                    make_lora_trainable(*model, at::kFloat);
                    c.adapter = "lora";
                    c.peft_use_dora = lora.dora;
                    c.lora_r = lora.r;
                    c.lora_alpha = lora.alpha;
                    c.lora_dropout = dropout;
                    c.lora_target_modules = lora.target_modules;
                }
                Batch b;
                b.input_ids = at::randint(config.vocab_size, {1, seq}, at::TensorOptions().dtype(at::kLong));
                b.labels = b.input_ids.clone();
                b.attention_mask = at::ones_like(b.input_ids);
                const double measured = measure_saved_bytes(*model, b).per_token_per_layer;
                const double estimate = estimate_training_memory(c, bf16).activations / static_cast<double>(seq * config.num_layers);
                expect_estimate_matches(estimate, measured,
                                        fc.model + (full_finetuning ? " full finetuning " : " " + fc.adapter + " ") + (fused ? "fused " : "composite ") +
                                            (bf16 ? "bfloat16" : "float32") + " dropout " + std::to_string(dropout));
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ActivationEstimateFixture,
                         ::testing::Values(FixtureCase{"llama", "lora"}, FixtureCase{"mistral", "lora"}, FixtureCase{"qwen2", "lora"},
                                           FixtureCase{"qwen3", "lora"}, FixtureCase{"gemma", "lora"}, FixtureCase{"phi3", "lora"},
                                           FixtureCase{"gpt2", "lora"}, FixtureCase{"llama", "dora"}, FixtureCase{"llama", ""},
                                           FixtureCase{"qwen3", ""}, FixtureCase{"gemma", ""}, FixtureCase{"phi3", ""}),
                         [](const ::testing::TestParamInfo<FixtureCase>& info) {
                             return info.param.model + "_" + (info.param.adapter.empty() ? "full" : info.param.adapter);
                         });

}  // namespace
}  // namespace lathe
