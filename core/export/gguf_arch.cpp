#include "core/export/gguf_arch.h"

#include <cstring>
#include <vector>

#include "core/util/error.h"

namespace lathe {

namespace {

// Mistral converts as "llama" (convert_hf_to_gguf.py registers MistralForCausalLM with LlamaModel).
const GgufArch kArches[] = {
    {.model_type = "llama", .gguf_arch = "llama", .hf_class = "LlamaForCausalLM", .permute_qk = true, .norm_plus_one = false,
     .transpose_conv1d = false, .ffn_activation = "silu", .partial_rotary = false, .always_head_dim_keys = false,
     .original_context_key = false, .sliding_window_key = false, .llama_bias_keys = true, .qkv_biases = false},
    {.model_type = "mistral", .gguf_arch = "llama", .hf_class = "MistralForCausalLM", .permute_qk = true, .norm_plus_one = false,
     .transpose_conv1d = false, .ffn_activation = "silu", .partial_rotary = false, .always_head_dim_keys = false,
     .original_context_key = false, .sliding_window_key = false, .llama_bias_keys = false, .qkv_biases = false},
    {.model_type = "qwen2", .gguf_arch = "qwen2", .hf_class = "Qwen2ForCausalLM", .permute_qk = false, .norm_plus_one = false,
     .transpose_conv1d = false, .ffn_activation = "silu", .partial_rotary = false, .always_head_dim_keys = false,
     .original_context_key = false, .sliding_window_key = false, .llama_bias_keys = false, .qkv_biases = true},
    {.model_type = "qwen3", .gguf_arch = "qwen3", .hf_class = "Qwen3ForCausalLM", .permute_qk = false, .norm_plus_one = false,
     .transpose_conv1d = false, .ffn_activation = "silu", .partial_rotary = false, .always_head_dim_keys = false,
     .original_context_key = false, .sliding_window_key = false, .llama_bias_keys = false, .qkv_biases = false},
    {.model_type = "gemma", .gguf_arch = "gemma", .hf_class = "GemmaForCausalLM", .permute_qk = false, .norm_plus_one = true,
     .transpose_conv1d = false, .ffn_activation = "gelu_pytorch_tanh", .partial_rotary = false, .always_head_dim_keys = true,
     .original_context_key = false, .sliding_window_key = false, .llama_bias_keys = false, .qkv_biases = false},
    {.model_type = "phi3", .gguf_arch = "phi3", .hf_class = "Phi3ForCausalLM", .permute_qk = false, .norm_plus_one = false,
     .transpose_conv1d = false, .ffn_activation = "silu", .partial_rotary = true, .always_head_dim_keys = false,
     .original_context_key = true, .sliding_window_key = true, .llama_bias_keys = false, .qkv_biases = false},
    {.model_type = "gpt2", .gguf_arch = "gpt2", .hf_class = "GPT2LMHeadModel", .permute_qk = false, .norm_plus_one = false,
     .transpose_conv1d = true, .ffn_activation = "gelu_new", .partial_rotary = false, .always_head_dim_keys = false,
     .original_context_key = false, .sliding_window_key = false, .llama_bias_keys = false, .qkv_biases = false},
};

}  // namespace

const GgufArch* gguf_arch_for_model_type(const std::string& model_type) {
    for (const auto& a : kArches) {
        if (model_type == a.model_type) return &a;
    }
    return nullptr;
}

const GgufArch* gguf_arch_for_gguf_name(const std::string& gguf_arch) {
    for (const auto& a : kArches) {
        if (gguf_arch == a.gguf_arch) return &a;  // "llama" finds llama, which mistral checkpoints are too
    }
    return nullptr;
}

std::string gguf_supported_model_types() {
    std::string out;
    for (const auto& a : kArches) out += (out.empty() ? "" : ", ") + std::string(a.model_type);
    return out;
}

std::vector<GgufTensorName> gguf_tensor_names(const ArchSpec& s, int64_t n_layers) {
    std::vector<GgufTensorName> out;
    auto add = [&](const char* gguf, const char* hf, int layer) {
        if (!hf || !*hf) return;
        out.push_back({layer < 0 ? gguf : layer_tensor_name(gguf, layer), layer < 0 ? hf : layer_tensor_name(hf, layer), layer});
    };
    add("token_embd", s.embed, -1);
    add("position_embd", s.pos_embed, -1);
    add("output_norm", s.final_norm, -1);
    add("output", s.lm_head, -1);
    for (int l = 0; l < n_layers; ++l) {
        add("blk.%d.attn_norm", s.attn_norm, l);
        add("blk.%d.attn_q", s.q, l);
        add("blk.%d.attn_k", s.k, l);
        add("blk.%d.attn_v", s.v, l);
        add("blk.%d.attn_qkv", s.qkv, l);
        add("blk.%d.attn_output", s.o, l);
        add("blk.%d.attn_q_norm", s.q_norm, l);
        add("blk.%d.attn_k_norm", s.k_norm, l);
        add("blk.%d.ffn_norm", s.mlp_norm, l);
        add("blk.%d.ffn_gate", s.gate, l);
        add("blk.%d.ffn_up", s.up, l);
        add("blk.%d.ffn_up", s.gate_up, l);  // phi3's fused gate_up_proj is llama.cpp's ffn_up
        add("blk.%d.ffn_down", s.down, l);
    }
    return out;
}

// HF row h*hd + j*(hd/2) + i  <->  GGUF row h*hd + 2*i + j  (j in {0, 1}, i < hd/2).
static void permute_rows(float* data, int64_t rows, int64_t cols, int64_t n_head, bool to_gguf) {
    LATHE_ASSERT(n_head > 0 && rows % (2 * n_head) == 0);
    const int64_t hd = rows / n_head;
    std::vector<float> src(data, data + rows * cols);
    for (int64_t h = 0; h < n_head; ++h) {
        for (int64_t j = 0; j < 2; ++j) {
            for (int64_t i = 0; i < hd / 2; ++i) {
                const int64_t hf_row = h * hd + j * (hd / 2) + i;
                const int64_t gguf_row = h * hd + 2 * i + j;
                const int64_t from = to_gguf ? hf_row : gguf_row;
                const int64_t to = to_gguf ? gguf_row : hf_row;
                std::memcpy(data + to * cols, src.data() + from * cols, cols * sizeof(float));
            }
        }
    }
}

void permute_qk_rows(float* data, int64_t rows, int64_t cols, int64_t n_head) {
    permute_rows(data, rows, cols, n_head, true);
}

void unpermute_qk_rows(float* data, int64_t rows, int64_t cols, int64_t n_head) {
    permute_rows(data, rows, cols, n_head, false);
}

}  // namespace lathe
