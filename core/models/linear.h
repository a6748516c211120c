// A linear layer as every architecture uses it, with an optional LoRA/rsLoRA/DoRA adapter attached
// unmerged. Weights are [out, in] (GPT-2's Conv1D [in, out] tensors are viewed transposed at load).
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>

#include "core/quant/bnb_4bit.h"

namespace lathe {

struct LoraWeights {
    at::Tensor A;          // [r, in]
    at::Tensor B;          // [out, r]
    at::Tensor magnitude;  // DoRA: [out]; undefined for plain LoRA
    double scale = 1.0;    // alpha / r, or alpha / sqrt(r) for rsLoRA
    double dropout = 0.0;  // applied to the adapter's input while training
};

struct Linear {
    std::string name;      // Hugging Face module name, e.g. "model.layers.0.self_attn.q_proj"
    at::Tensor weight;     // [out, in]; undefined when the weight is held in 4 bits
    at::Tensor bias;       // [out] or undefined
    std::optional<LoraWeights> lora;
    // A bitsandbytes NF4/FP4 weight (QLoRA base, pre-quantized checkpoints): forward dequantizes it for
    // the one call, so only the 4-bit bytes stay resident.
    std::shared_ptr<const quant::Bnb4bitTensor> weight_4bit;
    // bnb_4bit_compute_dtype: a 4-bit layer's input is cast to it for the product and the result cast
    // back, as bitsandbytes' Linear4bit does; unset computes in the input's dtype.
    std::optional<at::ScalarType> compute_dtype;

    bool present() const { return weight.defined() || weight_4bit != nullptr; }
    int64_t in_features() const { return weight_4bit ? weight_4bit->state.shape[1] : weight.size(1); }
    int64_t out_features() const { return weight_4bit ? weight_4bit->state.shape[0] : weight.size(0); }
};

// The [out, in] base weight: `weight`, or the 4-bit weight dequantized (in its original dtype, as
// bitsandbytes does) and cast to `dtype` when one is given.
at::Tensor base_weight(const Linear& layer, std::optional<at::ScalarType> dtype = std::nullopt);

// y = x W^T + b, plus the adapter's contribution when one is attached.
at::Tensor linear_forward(const Linear& layer, const at::Tensor& x, bool training = false);

// The weight with the adapter folded in, as PEFT's merge_and_unload computes it.
at::Tensor merged_weight(const Linear& layer);

// DoRA's per-output scale: magnitude / ||W + scale * B A|| over each output row (no gradient through
// the norm, as in the DoRA paper and PEFT).
at::Tensor dora_scale(const Linear& layer);

}  // namespace lathe
