// How llama.cpp names what Hugging Face names (after convert_hf_to_gguf.py and gguf-py's
// tensor_mapping.py), as a table shared by `lathe import` and the GGUF export. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/models/architecture.h"

namespace lathe {

struct GgufArch {
    const char* model_type;  // config.json "model_type"
    const char* gguf_arch;   // general.architecture (the prefix of the hyper-parameter keys)
    const char* hf_class;    // config.json "architectures"[0]
    // convert_hf_to_gguf.py reorders the rows of q_proj/k_proj (LlamaModel.permute) so llama.cpp's
    // "normal" RoPE, which rotates adjacent pairs, sees what HF's rotate_half sees.
    bool permute_qk;
    // Gemma's RMSNorm multiplies by (1 + w); convert_hf_to_gguf.py stores 1 + w.
    bool norm_plus_one;
    // GPT-2's Conv1D stores [in, out]; GGUF stores the usual [out, in].
    bool transpose_conv1d;
    // The MLP activation llama.cpp's graph for this architecture applies (a config.json hidden_act value).
    const char* ffn_activation;
    // rope.dimension_count may be less than the head size (Phi-3's partial_rotary_factor); elsewhere
    // llama.cpp rotates whole heads.
    bool partial_rotary;
    // attention.key_length / value_length are written even when head_dim * heads == hidden (Gemma's
    // converter always writes them); elsewhere only when they differ.
    bool always_head_dim_keys;
    // rope.scaling.original_context_length (Phi-3's original_max_position_embeddings).
    bool original_context_key;
    // attention.sliding_window: llama.cpp applies the window (Phi-3); elsewhere it attends to the whole
    // context, so a model with a window cannot be exported.
    bool sliding_window_key;
    // config.json gets LlamaConfig's attention_bias and mlp_bias keys on import, and the GGUF may carry
    // q, k, v and o biases (all four in every layer, or none).
    bool llama_bias_keys;
    // q, k and v always carry biases and nothing else does (Qwen2): a GGUF without them is broken.
    bool qkv_biases;
};

// By HF model_type; nullptr when GGUF export/import does not handle it.
const GgufArch* gguf_arch_for_model_type(const std::string& model_type);
// By general.architecture; nullptr when unknown.
const GgufArch* gguf_arch_for_gguf_name(const std::string& gguf_arch);
// "llama, mistral, qwen2, ..." for error messages.
std::string gguf_supported_model_types();

// One tensor in both namings, without the ".weight"/".bias" suffix: {"blk.3.attn_q", "model.layers.3.self_attn.q_proj"}.
struct GgufTensorName {
    std::string gguf;
    std::string hf;
    int layer = -1;  // -1 for tensors outside the layers
};
std::vector<GgufTensorName> gguf_tensor_names(const ArchSpec& spec, int64_t n_layers);

// LlamaModel.permute on a row-major [rows, cols] float matrix with rows = n_head * head_dim, and its
// inverse (GGUF -> HF). Biases are the cols = 1 case.
void permute_qk_rows(float* data, int64_t rows, int64_t cols, int64_t n_head);
void unpermute_qk_rows(float* data, int64_t rows, int64_t cols, int64_t n_head);

}  // namespace lathe
