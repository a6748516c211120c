// The torch-free memory estimate (core/train/memory_estimate.h) that `lathe train --dry-run` prints and the
// Studio's Train page computes in-process. Its trainable-parameter count is checked against the adapters
// PEFT itself made for the fixture models (tests/fixtures/hf/adapters): every LoRA tensor PEFT created
// is counted once, for fused (phi3, gpt2) and separate projections alike.
#include <gtest/gtest.h>

#include <string>

#include "core/io/safetensors.h"
#include "core/models/config.h"
#include "core/models/model_summary.h"
#include "core/train/memory_estimate.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {
namespace {

const std::string kFixtures = LATHE_FIXTURES "/hf";

class LoraEstimate : public ::testing::TestWithParam<std::string> {};

TEST_P(LoraEstimate, TrainableParametersEqualPeftsAdapter) {
    const std::string adapter = kFixtures + "/adapters/" + GetParam() + "-lora";
    const nlohmann::json peft = read_json_file(adapter + "/adapter_config.json");
    TrainConfig c;
    c.base_model = kFixtures + "/models/" + GetParam();
    c.adapter = "lora";
    c.lora_r = peft["r"].get<int>();
    c.lora_target_modules = peft["target_modules"].get<std::vector<std::string>>();

    int64_t peft_parameters = 0;
    const auto file = SafetensorsFile::open(adapter + "/adapter_model.safetensors");
    for (const TensorEntry& t : file->header().tensors) peft_parameters += t.numel();
    ASSERT_GT(peft_parameters, 0);

    const MemoryEstimate e = estimate_training_memory(c, /*bf16=*/false);
    EXPECT_EQ(static_cast<int64_t>(e.trainable), peft_parameters);
    EXPECT_EQ(e.gradients, e.trainable * 4);
    EXPECT_EQ(e.optimizer, e.trainable * (8 + 4));  // AdamW's two moments and the float32 master copy
    EXPECT_FALSE(e.quantization);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LoraEstimate,
                         ::testing::Values("llama", "llama3-rope-scaled", "mistral", "qwen2", "qwen3", "gemma", "phi3", "gpt2"));

TEST(MemoryEstimate, FullFinetuneTrainsEveryParameter) {
    TrainConfig c;
    c.base_model = kFixtures + "/models/llama";
    const int64_t parameters = summarize_model(c.base_model).parameters;
    const MemoryEstimate e = estimate_training_memory(c, false);
    EXPECT_EQ(static_cast<int64_t>(e.trainable), parameters);
    EXPECT_EQ(e.weights, parameters * 4.0);  // float32
    EXPECT_EQ(e.optimizer, parameters * 8.0);  // no master copy when the weights already are float32
    EXPECT_DOUBLE_EQ(e.total, e.weights + e.gradients + e.optimizer + e.activations + e.logits);
}

TEST(MemoryEstimate, CheckpointingAndBfloat16KeepLessActivations) {
    TrainConfig c;
    c.base_model = kFixtures + "/models/llama";
    c.sequence_len = 2048;
    const MemoryEstimate plain = estimate_training_memory(c, false);
    c.gradient_checkpointing = true;
    const MemoryEstimate checkpointed = estimate_training_memory(c, false);
    EXPECT_LT(checkpointed.activations, plain.activations);
    const MemoryEstimate half = estimate_training_memory(c, true);
    EXPECT_EQ(half.activations * 2, checkpointed.activations);
    EXPECT_EQ(half.weights * 2, checkpointed.weights);
}

TEST(MemoryEstimate, QloraHoldsTheBlocksLinearsInFourBits) {
    TrainConfig c;
    c.base_model = kFixtures + "/models/llama";
    c.adapter = "lora";
    c.lora_target_linear = true;
    const MemoryEstimate lora = estimate_training_memory(c, false);
    c.adapter = "qlora";
    const MemoryEstimate qlora = estimate_training_memory(c, false);
    ASSERT_TRUE(qlora.quantization);
    EXPECT_FALSE(qlora.quantized_as_stored);
    const ModelConfig m = read_model_config(c.base_model);
    const double h = m.hidden_size, i = m.intermediate_size, q = m.num_heads * m.head_dim, kv = m.num_kv_heads * m.head_dim;
    EXPECT_EQ(qlora.quantized, (2 * h * q + 2 * h * kv + 3 * h * i) * m.num_layers);  // q, o, k, v, gate, up, down
    EXPECT_LT(qlora.weights, lora.weights);
    EXPECT_EQ(qlora.trainable, lora.trainable);
}

TEST(MemoryEstimate, Bf16AutoFollowsTheDevice) {
    EXPECT_TRUE(resolve_bf16("auto", true, 8));    // Ampere and later
    EXPECT_TRUE(resolve_bf16("auto", true, 9));
    EXPECT_FALSE(resolve_bf16("auto", true, 7));   // Volta/Turing emulate it
    EXPECT_FALSE(resolve_bf16("auto", true, -1));  // unknown GPU: the larger, float32 estimate
    EXPECT_FALSE(resolve_bf16("auto", false, 9));  // the CPU trains in float32
    EXPECT_TRUE(resolve_bf16("true", false, -1));
    EXPECT_FALSE(resolve_bf16("false", true, 9));
}

TEST(MemoryEstimate, UnreadableModelIsAnError) {
    TrainConfig c;
    c.base_model = kFixtures + "/models/does-not-exist";
    EXPECT_THROW(estimate_training_memory(c, false), Error);
}

}  // namespace
}  // namespace lathe
