// The torch-free memory estimate (core/train/memory_estimate.h) that `lathe train --dry-run` prints and the
// Studio's Train page computes in-process. Its trainable-parameter count is checked against the adapters
// PEFT itself made for the fixture models (tests/fixtures/hf/adapters): every LoRA tensor PEFT created
// is counted once, for fused (phi3, gpt2) and separate projections alike.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

#include "core/io/safetensors.h"
#include "core/models/config.h"
#include "core/models/model_summary.h"
#include "core/train/memory_estimate.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "core/util/remove_tree.h"
#include "kernels/fused_ops_setting.h"

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
    EXPECT_LT(half.activations, checkpointed.activations);
    EXPECT_GT(half.activations * 2, checkpointed.activations);  // 1/rms and the logsumexp stay float32
    EXPECT_EQ(half.weights * 2, checkpointed.weights);
}


// What a LoRA step keeps per token per layer with the LibTorch composites in float32, which compute what
// transformers + PEFT compute: the figures bench/saved_bytes_hf.py counted through transformers' own
// saved-tensor hooks (docs/performance.md, "Saved bytes per token per layer"; r=16 on every linear layer,
// dropout 0.05, CPU): 156,160 bytes on the Qwen2.5-0.5B shape and 557,640 on the Llama-3.1-8B shape.
TEST(MemoryEstimate, CompositeActivationsAreWhatTransformersAndPeftKeep) {
    const kernels::ScopedFusedOps composites(false);
    struct Shape {
        const char* config;
        double hf_bytes;
    };
    const Shape shapes[] = {
        {R"({"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
             "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
             "rope_theta": 1000000.0, "tie_word_embeddings": true})",
         156160},
        {R"({"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
             "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5,
             "rope_theta": 500000.0, "tie_word_embeddings": false})",
         557640},
    };
    const auto dir = std::filesystem::temp_directory_path() / ("lathe-estimate-" + std::to_string(::getpid()));
    for (const Shape& shape : shapes) {
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "config.json") << shape.config;
        const ModelConfig m = read_model_config(dir.string());
        TrainConfig c;
        c.base_model = dir.string();
        c.adapter = "lora";
        c.lora_r = 16;
        c.lora_target_linear = true;
        c.lora_dropout = 0.05;
        c.device = "cpu";
        c.micro_batch_size = 1;
        c.sequence_len = 512;
        const MemoryEstimate e = estimate_training_memory(c, m, 0, /*bf16=*/false);
        EXPECT_EQ(e.activations / (512.0 * static_cast<double>(m.num_layers)), shape.hf_bytes) << m.model_type;
    }
    remove_tree(dir);
}

// The fused ops keep less than the composites; with gradient checkpointing each layer keeps its input and
// one layer is recomputed at a time.
TEST(MemoryEstimate, ActivationsFollowTheFusedOpsAndCheckpointing) {
    TrainConfig c;
    c.base_model = kFixtures + "/models/llama";
    c.adapter = "lora";
    c.lora_target_linear = true;
    c.sequence_len = 1024;
    const ModelConfig m = read_model_config(c.base_model);
    double fused = 0, composite = 0;
    {
        const kernels::ScopedFusedOps setting(true);
        fused = estimate_training_memory(c, false).activations;
        c.gradient_checkpointing = true;
        const double checkpointed = estimate_training_memory(c, false).activations;
        // Each layer's float32 input, the generator's state on a GPU (16 bytes), and one layer in full.
        EXPECT_DOUBLE_EQ(checkpointed, m.num_layers * (1024.0 * m.hidden_size * 4 + 16) + fused / m.num_layers);
        c.gradient_checkpointing = false;
    }
    {
        const kernels::ScopedFusedOps setting(false);
        composite = estimate_training_memory(c, false).activations;
    }
    EXPECT_LT(fused, composite);
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
