#include "core/models/architecture.h"

namespace lathe {

namespace {

#define LLAMA_LIKE_NAMES                                                                                  \
    .embed = "model.embed_tokens", .pos_embed = "", .final_norm = "model.norm", .lm_head = "lm_head",       \
    .attn_norm = "model.layers.%d.input_layernorm", .mlp_norm = "model.layers.%d.post_attention_layernorm", \
    .q = "model.layers.%d.self_attn.q_proj", .k = "model.layers.%d.self_attn.k_proj",                       \
    .v = "model.layers.%d.self_attn.v_proj", .qkv = "", .o = "model.layers.%d.self_attn.o_proj"

// One row per model_type. Names are Hugging Face's, as save_pretrained writes them.
const ArchSpec kArchitectures[] = {
    {.model_type = "llama", .display_name = "Llama", .family = Family::DecoderLM, .norm = NormKind::RMS,
     .mlp = MlpKind::Gated, .positions = Positions::Rope, .fused_qkv = false, .qk_norm = false,
     .scale_embeddings = false, .conv1d = false, .tie_default = false, .default_act = "silu", LLAMA_LIKE_NAMES,
     .q_norm = "", .k_norm = "", .gate = "model.layers.%d.mlp.gate_proj", .up = "model.layers.%d.mlp.up_proj",
     .gate_up = "", .down = "model.layers.%d.mlp.down_proj",
     .attention_dropout = {"attention_dropout", 0.0},
     .o_bias = BiasRule::FromConfig},
    {.model_type = "mistral", .display_name = "Mistral", .family = Family::DecoderLM, .norm = NormKind::RMS,
     .mlp = MlpKind::Gated, .positions = Positions::Rope, .fused_qkv = false, .qk_norm = false,
     .scale_embeddings = false, .conv1d = false, .tie_default = false, .default_act = "silu", LLAMA_LIKE_NAMES,
     .q_norm = "", .k_norm = "", .gate = "model.layers.%d.mlp.gate_proj", .up = "model.layers.%d.mlp.up_proj",
     .gate_up = "", .down = "model.layers.%d.mlp.down_proj",
     .attention_dropout = {"attention_dropout", 0.0},
     .sliding_window = SlidingWindowRule::Always},
    {.model_type = "qwen2", .display_name = "Qwen2", .family = Family::DecoderLM, .norm = NormKind::RMS,
     .mlp = MlpKind::Gated, .positions = Positions::Rope, .fused_qkv = false, .qk_norm = false,
     .scale_embeddings = false, .conv1d = false, .tie_default = false, .default_act = "silu", LLAMA_LIKE_NAMES,
     .q_norm = "", .k_norm = "", .gate = "model.layers.%d.mlp.gate_proj", .up = "model.layers.%d.mlp.up_proj",
     .gate_up = "", .down = "model.layers.%d.mlp.down_proj",
     .attention_dropout = {"attention_dropout", 0.0},
     .qkv_bias = BiasRule::Always, .sliding_window = SlidingWindowRule::WhenEnabled},
    {.model_type = "qwen3", .display_name = "Qwen3", .family = Family::DecoderLM, .norm = NormKind::RMS,
     .mlp = MlpKind::Gated, .positions = Positions::Rope, .fused_qkv = false, .qk_norm = true,
     .scale_embeddings = false, .conv1d = false, .tie_default = false, .default_act = "silu", LLAMA_LIKE_NAMES,
     .q_norm = "model.layers.%d.self_attn.q_norm", .k_norm = "model.layers.%d.self_attn.k_norm",
     .gate = "model.layers.%d.mlp.gate_proj", .up = "model.layers.%d.mlp.up_proj", .gate_up = "",
     .down = "model.layers.%d.mlp.down_proj",
     .attention_dropout = {"attention_dropout", 0.0},
     .sliding_window = SlidingWindowRule::WhenEnabled},
    {.model_type = "gemma", .display_name = "Gemma", .family = Family::DecoderLM, .norm = NormKind::RMSPlusOne,
     .mlp = MlpKind::Gated, .positions = Positions::Rope, .fused_qkv = false, .qk_norm = false,
     .scale_embeddings = true, .conv1d = false, .tie_default = true, .default_act = "gelu_pytorch_tanh",
     LLAMA_LIKE_NAMES, .q_norm = "", .k_norm = "", .gate = "model.layers.%d.mlp.gate_proj",
     .up = "model.layers.%d.mlp.up_proj", .gate_up = "", .down = "model.layers.%d.mlp.down_proj",
     .attention_dropout = {"attention_dropout", 0.0},
     .act_key = "hidden_activation"},
    {.model_type = "phi3", .display_name = "Phi-3", .family = Family::DecoderLM, .norm = NormKind::RMS,
     .mlp = MlpKind::GatedFused, .positions = Positions::Rope, .fused_qkv = true, .qk_norm = false,
     .scale_embeddings = false, .conv1d = false, .tie_default = false, .default_act = "silu",
     .embed = "model.embed_tokens", .pos_embed = "", .final_norm = "model.norm", .lm_head = "lm_head",
     .attn_norm = "model.layers.%d.input_layernorm", .mlp_norm = "model.layers.%d.post_attention_layernorm",
     .q = "", .k = "", .v = "", .qkv = "model.layers.%d.self_attn.qkv_proj", .o = "model.layers.%d.self_attn.o_proj",
     .q_norm = "", .k_norm = "", .gate = "", .up = "", .gate_up = "model.layers.%d.mlp.gate_up_proj",
     .down = "model.layers.%d.mlp.down_proj",
     .attention_dropout = {"attention_dropout", 0.0}, .residual_dropout = {"resid_pdrop", 0.0}},
    {.model_type = "gpt2", .display_name = "GPT-2", .family = Family::DecoderLM, .norm = NormKind::LayerNorm,
     .mlp = MlpKind::Plain, .positions = Positions::Learned, .fused_qkv = true, .qk_norm = false,
     .scale_embeddings = false, .conv1d = true, .tie_default = true, .default_act = "gelu_new",
     .embed = "transformer.wte", .pos_embed = "transformer.wpe", .final_norm = "transformer.ln_f",
     .lm_head = "lm_head", .attn_norm = "transformer.h.%d.ln_1", .mlp_norm = "transformer.h.%d.ln_2", .q = "",
     .k = "", .v = "", .qkv = "transformer.h.%d.attn.c_attn", .o = "transformer.h.%d.attn.c_proj", .q_norm = "",
     .k_norm = "", .gate = "", .up = "transformer.h.%d.mlp.c_fc", .gate_up = "", .down = "transformer.h.%d.mlp.c_proj",
     .embedding_dropout = {"embd_pdrop", 0.1}, .attention_dropout = {"attn_pdrop", 0.1},
     .residual_dropout = {"resid_pdrop", 0.1},
     .config_keys = ConfigKeys::Gpt2, .act_key = "activation_function", .qkv_bias = BiasRule::Always,
     .o_bias = BiasRule::Always, .mlp_bias = BiasRule::Always},
    // BERT's tensors are named in bert.cpp: an encoder has a different shape of layer altogether.
    {.model_type = "bert", .display_name = "BERT", .family = Family::BertClassifier, .norm = NormKind::LayerNorm,
     .mlp = MlpKind::Plain, .positions = Positions::Learned, .fused_qkv = false, .qk_norm = false,
     .scale_embeddings = false, .conv1d = false, .tie_default = true, .default_act = "gelu", .embed = "",
     .pos_embed = "", .final_norm = "", .lm_head = "", .attn_norm = "", .mlp_norm = "", .q = "", .k = "", .v = "",
     .qkv = "", .o = "", .q_norm = "", .k_norm = "", .gate = "", .up = "", .gate_up = "", .down = ""},
};

#undef LLAMA_LIKE_NAMES

}  // namespace

const ArchSpec* find_architecture(const std::string& model_type) {
    for (const auto& arch : kArchitectures)
        if (model_type == arch.model_type) return &arch;
    return nullptr;
}

std::vector<std::string> supported_model_types() {
    std::vector<std::string> out;
    for (const auto& arch : kArchitectures) out.emplace_back(arch.model_type);
    return out;
}

std::string layer_tensor_name(const char* tmpl, int layer) {
    std::string out(tmpl);
    auto pos = out.find("%d");
    if (pos != std::string::npos) out.replace(pos, 2, std::to_string(layer));
    return out;
}

}  // namespace lathe
