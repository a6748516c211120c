// config.json as Lathe reads it. Both layouts are accepted: transformers 5 nests RoPE settings under
// `rope_parameters`; 4.x writes top-level `rope_theta` and `rope_scaling` (with `type` in older files).
// Values that change the numbers and have no universal default (rope_theta, norm eps, sizes) must be in
// the file: guessing one would be a silently wrong model. Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/models/architecture.h"
#include "core/quant/quantization_config.h"

namespace lathe {

struct RopeConfig {
    std::string type = "default";  // default, linear, dynamic, llama3, yarn
    double theta = 10000.0;
    double factor = 1.0;
    double partial_rotary_factor = 1.0;
    // llama3
    double low_freq_factor = 1.0;
    double high_freq_factor = 4.0;
    int64_t original_max_position_embeddings = 0;  // 0 = not given
    // yarn
    std::optional<double> attention_factor;
    double beta_fast = 32.0;
    double beta_slow = 1.0;
    std::optional<double> mscale;
    std::optional<double> mscale_all_dim;
    bool truncate = true;
};

struct ModelConfig {
    std::string path;  // the config.json it came from
    const ArchSpec* arch = nullptr;
    std::string model_type;

    int64_t vocab_size = 0;
    int64_t hidden_size = 0;
    int64_t intermediate_size = 0;
    int64_t num_layers = 0;
    int64_t num_heads = 0;
    int64_t num_kv_heads = 0;
    int64_t head_dim = 0;
    int64_t max_position_embeddings = 0;
    double norm_eps = 0;
    std::string hidden_act;
    bool tie_word_embeddings = false;
    bool attention_bias = false;  // q/k/v (and o for llama's attention_bias) carry biases
    bool o_bias = false;
    bool mlp_bias = false;
    std::optional<int64_t> sliding_window;  // only when the model really uses one
    RopeConfig rope;
    std::string torch_dtype;  // as saved: "float32", "bfloat16", ... ("" when absent)
    // A bitsandbytes 4-bit checkpoint's quantization_config (decoder-block linears stored as NF4/FP4).
    std::optional<quant::BnbQuantizationConfig> quantization;

    std::optional<int64_t> bos_token_id;
    std::vector<int64_t> eos_token_ids;
    std::optional<int64_t> pad_token_id;

    // Dropout probabilities transformers applies in training mode (ArchSpec's dropout keys; 0 = none).
    struct Dropout {
        double embedding = 0.0;
        double attention = 0.0;
        double residual = 0.0;
    };
    Dropout dropout;

    // GPT-2
    bool scale_attn_weights = true;
    bool scale_attn_by_inverse_layer_idx = false;
    // BERT
    int64_t type_vocab_size = 0;
    int64_t num_labels = 0;
    std::vector<std::string> labels;  // id2label, by id
};

// Reads DIR/config.json (or a config file path). Errors name the file and the key.
ModelConfig read_model_config(const std::string& dir_or_file);

}  // namespace lathe
