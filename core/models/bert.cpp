#include "core/models/bert.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/embedding.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <ATen/ops/zeros_like.h>

#include <cmath>

#include "core/util/error.h"

namespace lathe {

at::Tensor BertClassifier::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                   const at::Tensor& token_type_ids, bool training) const {
    if (input_ids.dim() != 2) throw Error("input_ids must be [batch, sequence]");
    const int64_t B = input_ids.size(0), T = input_ids.size(1);
    const int64_t H = config.num_heads, D = config.head_dim;
    if (T > config.max_position_embeddings)
        throw Error("sequence of " + std::to_string(T) + " tokens is longer than the model's " +
                    std::to_string(config.max_position_embeddings) + " positions");
    at::Tensor ids = input_ids.to(device());
    at::Tensor types = token_type_ids.defined() ? token_type_ids.to(device()) : at::zeros_like(ids);
    at::Tensor positions = at::arange(T, at::TensorOptions().dtype(at::kLong).device(device())).unsqueeze(0);

    at::Tensor h = at::embedding(word_embeddings, ids) + at::embedding(token_type_embeddings, types) +
                   at::embedding(position_embeddings, positions);
    h = apply_norm(NormKind::LayerNorm, embeddings_norm, h, config.norm_eps);

    std::optional<at::Tensor> mask;  // bool [B, 1, 1, T]: keys that are real tokens
    if (attention_mask.defined()) mask = attention_mask.to(device()).to(at::kBool).view({B, 1, 1, T});

    for (const BertLayer& layer : layers) {
        auto heads = [&](const Linear& proj) { return linear_forward(proj, h, training).view({B, T, H, D}).transpose(1, 2); };
        at::Tensor attn = at::scaled_dot_product_attention(heads(layer.query), heads(layer.key), heads(layer.value), mask,
                                                           0.0, false, 1.0 / std::sqrt(static_cast<double>(D)));
        attn = attn.transpose(1, 2).reshape({B, T, H * D});
        h = apply_norm(NormKind::LayerNorm, layer.attn_norm, linear_forward(layer.attn_out, attn, training) + h, config.norm_eps);
        at::Tensor inner = activation(config.hidden_act, linear_forward(layer.intermediate, h, training));
        h = apply_norm(NormKind::LayerNorm, layer.output_norm, linear_forward(layer.output, inner, training) + h, config.norm_eps);
    }
    at::Tensor pooled = linear_forward(pooler, h.select(1, 0), training).tanh();
    return linear_forward(classifier, pooled, training);
}

std::vector<Linear*> BertClassifier::linears() {
    std::vector<Linear*> out;
    for (auto& l : layers)
        for (Linear* p : {&l.query, &l.key, &l.value, &l.attn_out, &l.intermediate, &l.output}) out.push_back(p);
    out.push_back(&pooler);
    out.push_back(&classifier);
    return out;
}

}  // namespace lathe
