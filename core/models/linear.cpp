#include "core/models/linear.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>

#include "core/models/dora_norm.h"
#include "core/models/linear_4bit.h"
#include "kernels/dispatch.h"

namespace lathe {

namespace {
at::Tensor lora_delta(const LoraWeights& lora) { return at::matmul(lora.B, lora.A) * lora.scale; }
// Adapters may keep float32 master weights on a bfloat16 model: compute in the activations' dtype
// (a differentiable cast, so the float32 masters receive the gradients).
at::Tensor as(const at::Tensor& t, const at::Tensor& like) { return t.scalar_type() == like.scalar_type() ? t : t.to(like.scalar_type()); }

// x W^T (+ b) with the base weight. A 4-bit weight goes through linear_4bit: dequantized in x's dtype
// for this product only, and not kept for backward (Linear4bit + MatMul4Bit in bitsandbytes).
at::Tensor base_linear(const Linear& layer, const at::Tensor& x, bool with_bias) {
    const at::Tensor bias = with_bias ? layer.bias : at::Tensor();
    if (!layer.weight_4bit) return at::linear(x, layer.weight, bias);
    if (layer.compute_dtype && *layer.compute_dtype != x.scalar_type()) {
        at::Tensor y = linear_4bit(x.to(*layer.compute_dtype), layer.weight_4bit);
        if (bias.defined()) y = y + bias.to(*layer.compute_dtype);
        return y.to(x.scalar_type());
    }
    at::Tensor y = linear_4bit(x, layer.weight_4bit);
    return bias.defined() ? y + bias : y;
}
}  // namespace

at::Tensor base_weight(const Linear& layer, std::optional<at::ScalarType> dtype) {
    if (!layer.weight_4bit) return dtype ? layer.weight.to(*dtype) : layer.weight;
    const quant::Bnb4bitTensor& q = *layer.weight_4bit;
    at::Tensor w = quant::dequantize_4bit(q.packed, q.state);
    return dtype ? w.to(*dtype) : w;
}

// The norm is computed once per optimizer step (dora_norm.h), detached as PEFT detaches it.
at::Tensor dora_scale(const Linear& layer) { return layer.lora->magnitude.to(at::kFloat) / dora_weight_norm(layer); }

at::Tensor linear_forward(const Linear& layer, const at::Tensor& x, bool training) {
    if (!layer.lora) return base_linear(layer, x, true);
    const LoraWeights& lora = *layer.lora;
    const double dropout = training ? lora.dropout : 0.0;
    // LoRA: one function that keeps x, A(dropout(x)) and the dropout mask as bool (kernels/lora_linear.h).
    if (!lora.magnitude.defined()) return kernels::lora_linear(base_linear(layer, x, true), x, as(lora.A, x), as(lora.B, x), lora.scale, dropout);
    at::Tensor adapter_in = dropout > 0 ? at::dropout(x, dropout, true) : x;
    at::Tensor adapter_out = at::linear(at::linear(adapter_in, as(lora.A, x)), as(lora.B, x)) * lora.scale;

    // DoRA (PEFT's unmerged form): bias + s * (x W^T) + s * adapter, s = magnitude / ||W + BA||.
    at::Tensor s = as(dora_scale(layer), x);
    at::Tensor out = s * (base_linear(layer, x, false) + adapter_out);
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
