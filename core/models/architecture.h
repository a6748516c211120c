// Architectures as a table (after llama.cpp's llama-arch.cpp): each supported `model_type` maps to the
// few switches that tell the families apart and to the Hugging Face tensor-name templates ("%d" is the
// layer). The forward code in decoder_lm.cpp and bert.cpp reads these switches; nothing registers
// itself. Torch-free.
#pragma once

#include <string>
#include <vector>

namespace lathe {

enum class Family { DecoderLM, BertClassifier };
enum class NormKind { RMS, RMSPlusOne, LayerNorm };  // RMSPlusOne: Gemma's x * (1 + w)
enum class MlpKind { Gated, GatedFused, Plain };     // Gated: down(act(gate) * up); Plain: proj(act(fc))
enum class Positions { Rope, Learned };
// How config.json names the sizes: the usual keys (hidden_size, num_hidden_layers, num_attention_heads,
// intermediate_size, max_position_embeddings, rms_norm_eps, rope_*), or GPT2Config's (n_embd, n_layer,
// n_head, n_inner, n_positions, layer_norm_epsilon, scale_attn_weights, scale_attn_by_inverse_layer_idx).
enum class ConfigKeys { Standard, Gpt2 };
// Whether a projection has a bias. FromConfig: config.json's attention_bias (q/k/v/o) or mlp_bias, false
// when absent.
enum class BiasRule { Never, Always, FromConfig };
// Whether config.json's sliding_window is applied. WhenEnabled: only with use_sliding_window: true (Qwen2
// and Qwen3 configs carry a window their models do not use by default).
enum class SlidingWindowRule { Ignored, Always, WhenEnabled };

struct ArchSpec {
    const char* model_type;   // config.json "model_type"
    const char* display_name;
    Family family;
    NormKind norm;
    MlpKind mlp;
    Positions positions;
    bool fused_qkv;           // one projection produces q, k and v (phi3 qkv_proj, gpt2 c_attn)
    bool qk_norm;             // per-head RMSNorm on q and k before RoPE (qwen3)
    bool scale_embeddings;    // embeddings times sqrt(hidden_size) (gemma)
    bool conv1d;              // weights stored [in, out] (gpt2's Conv1D)
    bool tie_default;         // the config class's default for tie_word_embeddings
    const char* default_act;  // the config class's default hidden_act ("" = must be given)

    // Tensor names, without ".weight"/".bias". Empty when the architecture has no such tensor.
    const char* embed;
    const char* pos_embed;
    const char* final_norm;
    const char* lm_head;
    const char* attn_norm;
    const char* mlp_norm;
    const char* q, *k, *v, *qkv, *o;
    const char* q_norm, *k_norm;
    const char* gate, *up, *gate_up, *down;  // Plain MLP: up = fc, down = proj
    // The dropouts transformers applies in training mode: the config.json key of each probability and the
    // config class's default when the key is absent. A null key: the architecture has no such dropout.
    struct Dropout {
        const char* key = nullptr;
        double default_p = 0.0;
    };
    Dropout embedding_dropout = {};  // on the summed input embeddings (GPT-2's drop)
    Dropout attention_dropout = {};  // on the attention probabilities
    Dropout residual_dropout = {};   // on the attention output projection and on the MLP output, before each residual add

    ConfigKeys config_keys = ConfigKeys::Standard;
    const char* act_key = "hidden_act";  // the config.json key of the MLP activation (default_act when absent)
    BiasRule qkv_bias = BiasRule::FromConfig;
    BiasRule o_bias = BiasRule::Never;
    BiasRule mlp_bias = BiasRule::FromConfig;
    SlidingWindowRule sliding_window = SlidingWindowRule::Ignored;
};

// nullptr when Lathe does not know the model_type.
const ArchSpec* find_architecture(const std::string& model_type);
std::vector<std::string> supported_model_types();

// "model.layers.%d.self_attn.q_proj" with layer 3 -> "model.layers.3.self_attn.q_proj".
std::string layer_tensor_name(const char* tmpl, int layer);

}  // namespace lathe
