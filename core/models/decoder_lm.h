// Decoder-only causal language models: Llama, Mistral, Qwen2, Qwen3, Gemma, Phi-3 and GPT-2, one
// forward pass whose differences are the switches in ArchSpec (architecture.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "core/models/config.h"
#include "core/models/layers.h"
#include "core/models/linear.h"
#include "core/models/rope.h"
#include "core/models/varlen_attention.h"

namespace lathe {

struct DecoderLayer {
    Norm attn_norm;
    Norm mlp_norm;
    Linear q, k, v;       // separate projections, or
    Linear qkv;           // one fused projection (phi3, gpt2)
    Linear o;
    at::Tensor q_norm;    // qwen3: RMSNorm weights [head_dim]
    at::Tensor k_norm;
    Linear gate, up;      // gated MLP: down(act(gate x) * up x); plain MLP uses up (fc) and down (proj)
    Linear gate_up;       // phi3: gate and up in one projection
    Linear down;
};

// Keys and values of the tokens seen so far, per layer, preallocated to `capacity` positions.
struct KVCache {
    std::vector<at::Tensor> keys;    // [B, kv_heads, capacity, head_dim]
    std::vector<at::Tensor> values;
    at::Tensor key_mask;             // bool [B, capacity]: false for padding
    int64_t length = 0;              // positions filled
    int64_t capacity = 0;
};

// How one forward computes attention: over the padded [B, T] batch with `mask` (undefined = plain
// causal), or over the real tokens laid end to end (`varlen`).
struct AttentionPlan {
    at::Tensor mask;                            // bool [B, 1, T, S]
    std::shared_ptr<const VarlenBatch> varlen;  // set: the layers see [1, total, hidden]
};

class DecoderLM {
public:
    ModelConfig config;
    at::Tensor embed;       // [vocab, hidden]
    at::Tensor pos_embed;   // [max_positions, hidden] (GPT-2)
    std::vector<DecoderLayer> layers;
    Norm final_norm;
    Linear lm_head;         // weight shares storage with `embed` when tied
    RotaryEmbedding rotary;
    // Training: recompute each layer's activations in backward instead of keeping them.
    bool gradient_checkpointing = false;
    // Padded or packed batches without a KV cache run the layers on their real tokens only, with
    // variable-length attention (varlen_attention.h); the outputs at padding are zero. false: the
    // dense [B, 1, T, T]-masked SDPA over the padded batch (kept for comparison).
    bool unpadded_attention = true;

    // input_ids [B, T]; attention_mask [B, T] (1 = token, 0 = padding; with a cache it covers the new
    // tokens only); position_ids [B, T] (default: counting on from what the cache holds, as transformers
    // does). sequence_ids [B, T] marks the sequences packed into each row: attention stays within one
    // (with position_ids restarting at each). Returns the final hidden states [B, T, hidden]. Validate
    // ids and build masks from host tensors: then nothing here waits for the device.
    at::Tensor hidden_states(const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                             const at::Tensor& position_ids = {}, KVCache* cache = nullptr, bool training = false,
                             const at::Tensor& sequence_ids = {}) const;
    // Hidden states -> logits [.., vocab] in the model's dtype.
    at::Tensor logits(const at::Tensor& hidden) const;
    at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                       const at::Tensor& position_ids = {}, KVCache* cache = nullptr) const {
        return logits(hidden_states(input_ids, attention_mask, position_ids, cache));
    }

    KVCache make_cache(int64_t batch, int64_t capacity) const;
    std::vector<Linear*> linears();
    c10::Device device() const { return embed.device(); }
    at::ScalarType dtype() const { return embed.scalar_type(); }

private:
    // Embeddings, layers and final norm over ids and positions already on the device.
    at::Tensor run_layers(const at::Tensor& ids, const at::Tensor& positions, const AttentionPlan& plan, KVCache* cache,
                          bool training) const;
    at::Tensor attention_block(const DecoderLayer& layer, int64_t layer_index, const at::Tensor& x,
                               const at::Tensor& cos, const at::Tensor& sin, const AttentionPlan& plan,
                               KVCache* cache, bool training) const;
    at::Tensor mlp_block(const DecoderLayer& layer, const at::Tensor& x, bool training) const;
    // One decoder layer: pre-norm attention and MLP, each added to the residual stream.
    at::Tensor layer_forward(const DecoderLayer& layer, int64_t index, const at::Tensor& x, const at::Tensor& cos,
                             const at::Tensor& sin, const AttentionPlan& plan, KVCache* cache, bool training) const;
};

// The attention that padded or packed batches take with this model on its device and dtype:
// "flash_varlen", "sdpa_per_sequence" or "sdpa_masked" (unpadded_attention off). Batches without
// padding or packing always take causal SDPA ("sdpa_causal", what `padded_or_packed = false` gives).
std::string attention_path(const DecoderLM& lm, bool padded_or_packed = true);

// Mean cross-entropy of next-token prediction over labels != -100, as transformers' causal LM loss:
// logits [B, T, V] predict labels shifted by one. Computed in float32.
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace lathe
