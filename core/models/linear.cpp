#include "core/models/linear.h"

#include <ATen/ops/dropout.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>

namespace lathe {

namespace {
at::Tensor lora_delta(const LoraWeights& lora) { return at::matmul(lora.B, lora.A) * lora.scale; }
}  // namespace

at::Tensor dora_scale(const Linear& layer) {
    const LoraWeights& lora = *layer.lora;
    at::Tensor combined = layer.weight + lora_delta(lora).to(layer.weight.scalar_type());
    at::Tensor norm = combined.norm(2, {1}).detach();
    return lora.magnitude / norm;
}

at::Tensor linear_forward(const Linear& layer, const at::Tensor& x, bool training) {
    if (!layer.lora) return at::linear(x, layer.weight, layer.bias);
    const LoraWeights& lora = *layer.lora;
    at::Tensor adapter_in = training && lora.dropout > 0 ? at::dropout(x, lora.dropout, true) : x;
    at::Tensor adapter_out = at::linear(at::linear(adapter_in, lora.A), lora.B) * lora.scale;
    if (!lora.magnitude.defined()) return at::linear(x, layer.weight, layer.bias) + adapter_out;

    // DoRA (PEFT's unmerged form): bias + s * (x W^T) + s * adapter, s = magnitude / ||W + BA||.
    at::Tensor s = dora_scale(layer);
    at::Tensor out = s * (at::linear(x, layer.weight) + adapter_out);
    return layer.bias.defined() ? out + layer.bias : out;
}

at::Tensor merged_weight(const Linear& layer) {
    if (!layer.lora) return layer.weight;
    at::Tensor merged = layer.weight + lora_delta(*layer.lora).to(layer.weight.scalar_type());
    if (!layer.lora->magnitude.defined()) return merged;
    return dora_scale(layer).unsqueeze(1) * merged;
}

}  // namespace lathe
