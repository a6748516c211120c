#include "core/models/decoder_lm.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/embedding.h>
#include <ATen/ops/index_copy.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <ATen/ops/zeros.h>

#include <cmath>

#include "core/models/activation_checkpoint.h"
#include "core/models/gated_mlp_down.h"
#include "core/util/error.h"

namespace lathe {

namespace {

// Which keys each query may see: causal, not padding, inside the sliding window. bool [B, 1, T, S].
// Undefined when plain causal attention says it all (lets SDPA take its fastest path).
// `sequence_ids` [B, T] (packed rows, no cache): a query sees only keys of its own sequence.
at::Tensor attention_mask_for(const at::Tensor& key_mask, int64_t past, int64_t T, int64_t S,
                              const std::optional<int64_t>& window, const at::Tensor& sequence_ids, c10::Device device) {
    if (!key_mask.defined() && past == 0 && !window && !sequence_ids.defined()) return {};
    auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
    at::Tensor q_pos = at::arange(past, past + T, long_opts).unsqueeze(1);  // [T, 1]
    at::Tensor k_pos = at::arange(0, S, long_opts).unsqueeze(0);            // [1, S]
    at::Tensor allowed = k_pos <= q_pos;
    if (window) allowed = allowed.logical_and(q_pos - k_pos < *window);
    allowed = allowed.unsqueeze(0).unsqueeze(0);  // [1, 1, T, S]
    if (key_mask.defined()) allowed = allowed.logical_and(key_mask.view({key_mask.size(0), 1, 1, S}));
    if (sequence_ids.defined()) {
        at::Tensor ids = sequence_ids.to(device);
        allowed = allowed.logical_and((ids.unsqueeze(2) == ids.unsqueeze(1)).unsqueeze(1));  // [B, 1, T, T]
    }
    // A padding query would see no key at all and produce NaN; let it see itself. Real queries always
    // see themselves already, so their results do not change.
    allowed = allowed.logical_or((k_pos == q_pos).unsqueeze(0).unsqueeze(0));
    return allowed;
}

// The base model's own dropout (ModelConfig::dropout), in training mode only.
at::Tensor dropout_in_training(const at::Tensor& x, double p, bool training) { return training && p > 0 ? at::dropout(x, p, true) : x; }

}  // namespace

KVCache DecoderLM::make_cache(int64_t batch, int64_t capacity) const {
    KVCache cache;
    cache.capacity = capacity;
    auto opts = at::TensorOptions().dtype(dtype()).device(device());
    for (size_t i = 0; i < layers.size(); ++i) {
        cache.keys.push_back(at::zeros({batch, config.num_kv_heads, capacity, config.head_dim}, opts));
        cache.values.push_back(at::zeros({batch, config.num_kv_heads, capacity, config.head_dim}, opts));
    }
    cache.key_mask = at::ones({batch, capacity}, at::TensorOptions().dtype(at::kBool).device(device()));
    return cache;
}

at::Tensor DecoderLM::attention_block(const DecoderLayer& layer, int64_t layer_index, const at::Tensor& x,
                                      const at::Tensor& cos, const at::Tensor& sin, const AttentionPlan& plan,
                                      KVCache* cache, bool training) const {
    const int64_t B = x.size(0), T = x.size(1);
    const int64_t H = config.num_heads, KV = config.num_kv_heads, D = config.head_dim;
    at::Tensor q, k, v;
    if (config.arch->fused_qkv) {
        at::Tensor qkv = linear_forward(layer.qkv, x, training);
        q = qkv.narrow(-1, 0, H * D);
        k = qkv.narrow(-1, H * D, KV * D);
        v = qkv.narrow(-1, (H + KV) * D, KV * D);
    } else {
        q = linear_forward(layer.q, x, training);
        k = linear_forward(layer.k, x, training);
        v = linear_forward(layer.v, x, training);
    }
    q = q.view({B, T, H, D}).transpose(1, 2);   // [B, H, T, D]
    k = k.view({B, T, KV, D}).transpose(1, 2);  // [B, KV, T, D]
    v = v.view({B, T, KV, D}).transpose(1, 2);
    if (config.arch->qk_norm) {
        q = rms_norm(q, layer.q_norm, config.norm_eps, false);
        k = rms_norm(k, layer.k_norm, config.norm_eps, false);
    }
    if (config.arch->positions == Positions::Rope) {
        q = apply_rotary(q, cos, sin);
        k = apply_rotary(k, cos, sin);
    }

    // GPT-2's config can turn the 1/sqrt(D) off or add 1/(layer + 1); the other configs keep the defaults.
    double scale = config.scale_attn_weights ? 1.0 / std::sqrt(static_cast<double>(D)) : 1.0;
    if (config.scale_attn_by_inverse_layer_idx) scale /= static_cast<double>(layer_index + 1);
    if (plan.varlen) {
        // B = 1, T = all real tokens: [1, heads, total, D] -> [total, heads, D].
        at::Tensor attn = varlen_attention(q.squeeze(0).transpose(0, 1), k.squeeze(0).transpose(0, 1), v.squeeze(0).transpose(0, 1),
                                           *plan.varlen, scale, config.sliding_window, training ? config.dropout.attention : 0.0);
        return linear_forward(layer.o, attn.reshape({B, T, H * D}), training);
    }

    const at::Tensor& mask = plan.mask;
    bool causal = !mask.defined();
    if (cache) {
        int64_t past = cache->length;
        cache->keys[layer_index].narrow(2, past, T).copy_(k);
        cache->values[layer_index].narrow(2, past, T).copy_(v);
        k = cache->keys[layer_index].narrow(2, 0, past + T);
        v = cache->values[layer_index].narrow(2, 0, past + T);
    }

    at::Tensor attn = at::scaled_dot_product_attention(q, k, v, mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt,
                                                       training ? config.dropout.attention : 0.0, causal, scale, /*enable_gqa=*/H != KV);
    attn = attn.transpose(1, 2).reshape({B, T, H * D});
    return linear_forward(layer.o, attn, training);
}

at::Tensor DecoderLM::layer_forward(const DecoderLayer& layer, int64_t index, const at::Tensor& x, const at::Tensor& cos,
                                    const at::Tensor& sin, const AttentionPlan& plan, KVCache* cache, bool training) const {
    const double residual_dropout = config.dropout.residual;
    at::Tensor h = x + dropout_in_training(attention_block(layer, index, apply_norm(config.arch->norm, layer.attn_norm, x, config.norm_eps),
                                                           cos, sin, plan, cache, training),
                                           residual_dropout, training);
    return h + dropout_in_training(mlp_block(layer, apply_norm(config.arch->norm, layer.mlp_norm, h, config.norm_eps), training),
                                   residual_dropout, training);
}

at::Tensor DecoderLM::mlp_block(const DecoderLayer& layer, const at::Tensor& x, bool training) const {
    switch (config.arch->mlp) {
        case MlpKind::Gated: {
            at::Tensor gate = linear_forward(layer.gate, x, training);  // before up: LoRA dropout draws in HF's order
            at::Tensor up = linear_forward(layer.up, x, training);
            return gated_mlp_down(layer.down, config.hidden_act, gate, up, training);
        }
        case MlpKind::GatedFused: {
            at::Tensor gate_up = linear_forward(layer.gate_up, x, training);
            int64_t half = gate_up.size(-1) / 2;
            at::Tensor gate = gate_up.narrow(-1, 0, half), up = gate_up.narrow(-1, half, half);
            return gated_mlp_down(layer.down, config.hidden_act, gate, up, training);
        }
        case MlpKind::Plain:
            return linear_forward(layer.down, activation(config.hidden_act, linear_forward(layer.up, x, training)), training);
    }
    LATHE_ASSERT(false);
    return x;
}

at::Tensor DecoderLM::hidden_states(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& position_ids, KVCache* cache, bool training,
                                    const at::Tensor& sequence_ids) const {
    if (input_ids.dim() != 2) throw Error("input_ids must be [batch, sequence], got " + std::to_string(input_ids.dim()) + " dimensions");
    const int64_t B = input_ids.size(0), T = input_ids.size(1);
    const int64_t past = cache ? cache->length : 0;
    if (cache && past + T > cache->capacity) throw Error("KV cache is full (" + std::to_string(cache->capacity) + " positions)");
    if (attention_mask.defined() && attention_mask.sizes() != input_ids.sizes())
        throw Error("attention_mask must have the shape of input_ids");
    if (sequence_ids.defined() && (cache || sequence_ids.sizes() != input_ids.sizes()))
        throw Error("sequence_ids must have the shape of input_ids, and packed rows take no KV cache");
    // Checked where the ids are: batches are built on the host, so this waits for no device.
    int64_t max_id = input_ids.numel() ? input_ids.max().item<int64_t>() : 0;
    int64_t min_id = input_ids.numel() ? input_ids.min().item<int64_t>() : 0;
    if (min_id < 0 || max_id >= config.vocab_size)
        throw Error("token id " + std::to_string(min_id < 0 ? min_id : max_id) + " is outside the vocabulary (0.." +
                    std::to_string(config.vocab_size - 1) + ")");
    if (config.arch->positions == Positions::Learned) {
        const int64_t last = position_ids.defined() ? (position_ids.numel() ? position_ids.max().item<int64_t>() : 0) : past + T - 1;
        if (last >= pos_embed.size(0)) throw Error("sequence longer than the model's " + std::to_string(pos_embed.size(0)) + " positions");
    }
    auto long_opts = at::TensorOptions().dtype(at::kLong);
    // Position ids as transformers defaults them: counting on from what the cache holds.
    auto default_positions = [&](c10::Device where) { return at::arange(past, past + T, long_opts.device(where)).unsqueeze(0).expand({B, T}); };

    const bool padded = !cache && attention_mask.defined() && !attention_mask.to(at::kBool).all().item<bool>();
    if (!cache && unpadded_attention && (padded || sequence_ids.defined())) {
        auto varlen = varlen_batch(padded ? attention_mask : at::Tensor(), sequence_ids, B, T, device(),
                                   varlen_kernel_for(device(), dtype(), config.head_dim));
        if (varlen) {
            // Gather the real tokens (and their positions, as the padded batch has them) on the host.
            at::Tensor host_positions = position_ids.defined() ? position_ids.to(at::kCPU) : default_positions(at::kCPU);
            at::Tensor ids = input_ids.to(at::kCPU).reshape({-1}).index_select(0, varlen->token_index_host).unsqueeze(0);
            at::Tensor positions = host_positions.reshape({-1}).index_select(0, varlen->token_index_host).unsqueeze(0);
            at::Tensor token_index = varlen->token_index;
            AttentionPlan plan{.mask = {}, .varlen = std::make_shared<const VarlenBatch>(std::move(*varlen))};
            at::Tensor h = run_layers(ids.to(device(), /*non_blocking=*/true), positions.to(device(), /*non_blocking=*/true), plan,
                                      nullptr, training);
            const int64_t hidden = h.size(-1);
            return at::zeros({B * T, hidden}, h.options()).index_copy(0, token_index, h.squeeze(0)).view({B, T, hidden});
        }
    }

    at::Tensor key_mask;  // [B, S] over all keys, when any padding exists
    if (cache) {
        if (attention_mask.defined()) cache->key_mask.narrow(1, past, T).copy_(attention_mask.to(device()).to(at::kBool));
        key_mask = cache->key_mask.narrow(1, 0, past + T);
        if (key_mask.all().item<bool>()) key_mask = at::Tensor();
    } else if (padded) {
        key_mask = attention_mask.to(device()).to(at::kBool);
    }
    AttentionPlan plan{.mask = attention_mask_for(key_mask, past, T, past + T, config.sliding_window, sequence_ids, device()),
                       .varlen = nullptr};
    at::Tensor positions = position_ids.defined() ? position_ids.to(device()) : default_positions(device());
    at::Tensor h = run_layers(input_ids.to(device()), positions, plan, cache, training);
    if (cache) cache->length = past + T;
    return h;
}

at::Tensor DecoderLM::run_layers(const at::Tensor& ids, const at::Tensor& positions, const AttentionPlan& plan, KVCache* cache,
                                 bool training) const {
    at::Tensor h = at::embedding(embed, ids);
    if (config.arch->scale_embeddings) {
        // transformers multiplies by sqrt(hidden) rounded to the activations' dtype.
        at::Tensor normalizer = at::scalar_tensor(std::sqrt(static_cast<double>(config.hidden_size)), at::TensorOptions().dtype(h.scalar_type()));
        h = h * normalizer.to(h.device());
    }
    if (config.arch->positions == Positions::Learned) h = h + at::embedding(pos_embed, positions);
    h = dropout_in_training(h, config.dropout.embedding, training);

    at::Tensor cos, sin;
    if (config.arch->positions == Positions::Rope) std::tie(cos, sin) = rotary.cos_sin(positions, h.scalar_type());

    for (size_t i = 0; i < layers.size(); ++i) {
        const DecoderLayer& layer = layers[i];
        const int64_t index = static_cast<int64_t>(i);
        if (training && gradient_checkpointing && !cache) {
            // Copies of what the layer reads: backward recomputes it after this frame is gone.
            h = checkpointed([this, &layer, index, cos, sin, plan](const at::Tensor& x) {
                return layer_forward(layer, index, x, cos, sin, plan, nullptr, true);
            }, h);
        } else {
            h = layer_forward(layer, index, h, cos, sin, plan, cache, training);
        }
    }
    return apply_norm(config.arch->norm, final_norm, h, config.norm_eps);
}

std::string attention_path(const DecoderLM& lm, bool padded_or_packed) {
    if (!padded_or_packed) return "sdpa_causal";
    if (!lm.unpadded_attention) return "sdpa_masked";
    return varlen_kernel_name(varlen_kernel_for(lm.device(), lm.dtype(), lm.config.head_dim));
}

at::Tensor DecoderLM::logits(const at::Tensor& hidden) const { return linear_forward(lm_head, hidden); }

std::vector<Linear*> DecoderLM::linears() {
    std::vector<Linear*> out;
    for (auto& layer : layers)
        for (Linear* l : {&layer.q, &layer.k, &layer.v, &layer.qkv, &layer.o, &layer.gate, &layer.up, &layer.gate_up, &layer.down})
            if (l->present()) out.push_back(l);
    out.push_back(&lm_head);
    return out;
}

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels) {
    const int64_t V = logits.size(-1);
    at::Tensor shifted_logits = logits.narrow(1, 0, logits.size(1) - 1).to(at::kFloat).reshape({-1, V});
    at::Tensor shifted_labels = labels.to(logits.device()).narrow(1, 1, labels.size(1) - 1).reshape({-1});
    return at::cross_entropy_loss(shifted_logits, shifted_labels, {}, at::Reduction::Mean, -100);
}

}  // namespace lathe
