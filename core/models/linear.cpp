#include "core/models/linear.h"

#include <ATen/ops/dropout.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>

namespace lathe {

namespace {
at::Tensor lora_delta(const LoraWeights& lora) { return at::matmul(lora.B, lora.A) * lora.scale; }
// Adapters may keep float32 master weights on a bfloat16 model: compute in the activations' dtype
// (a differentiable cast, so the float32 masters receive the gradients).
at::Tensor as(const at::Tensor& t, const at::Tensor& like) { return t.scalar_type() == like.scalar_type() ? t : t.to(like.scalar_type()); }
}  // namespace

at::Tensor base_weight(const Linear& layer, std::optional<at::ScalarType> dtype) {
    if (!layer.weight_4bit) return dtype ? layer.weight.to(*dtype) : layer.weight;
    const quant::Bnb4bitTensor& q = *layer.weight_4bit;
    at::Tensor w = quant::dequantize_4bit(q.packed, q.state);
    return dtype ? w.to(*dtype) : w;
}

at::Tensor dora_scale(const Linear& layer) {
    const LoraWeights& lora = *layer.lora;
    at::Tensor combined = base_weight(layer, at::kFloat) + lora_delta(lora).to(at::kFloat);
    at::Tensor norm = combined.norm(2, {1}).detach();
    return lora.magnitude.to(at::kFloat) / norm;
}

at::Tensor linear_forward(const Linear& layer, const at::Tensor& x, bool training) {
    if (layer.weight_4bit) {
        // Linear4bit: the weight dequantized for this call only, in the activations' dtype.
        Linear dense = layer;
        dense.weight_4bit = nullptr;
        dense.weight = base_weight(layer, x.scalar_type());
        return linear_forward(dense, x, training);
    }
    if (!layer.lora) return at::linear(x, layer.weight, layer.bias);
    const LoraWeights& lora = *layer.lora;
    at::Tensor adapter_in = training && lora.dropout > 0 ? at::dropout(x, lora.dropout, true) : x;
    at::Tensor adapter_out = at::linear(at::linear(adapter_in, as(lora.A, x)), as(lora.B, x)) * lora.scale;
    if (!lora.magnitude.defined()) return at::linear(x, layer.weight, layer.bias) + adapter_out;

    // DoRA (PEFT's unmerged form): bias + s * (x W^T) + s * adapter, s = magnitude / ||W + BA||.
    at::Tensor s = as(dora_scale(layer), x);
    at::Tensor out = s * (at::linear(x, layer.weight) + adapter_out);
    return layer.bias.defined() ? out + layer.bias : out;
}

at::Tensor merged_weight(const Linear& layer) {
    at::Tensor weight = base_weight(layer);
    if (!layer.lora) return weight;
    at::Tensor merged = weight + lora_delta(*layer.lora).to(weight.scalar_type());
    if (!layer.lora->magnitude.defined()) return merged;
    return (dora_scale(layer).unsqueeze(1) * merged).to(weight.scalar_type());
}

}  // namespace lathe
