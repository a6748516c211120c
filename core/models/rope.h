// Rotary position embeddings the way transformers computes them (modeling_rope_utils.py): inverse
// frequencies for default, linear, dynamic (NTK), llama3 and yarn scaling, in float32, and the
// rotate-half application to the first `rotary_dim` features of each head.
#pragma once

#include <ATen/core/Tensor.h>

#include <utility>

#include "core/models/config.h"

namespace lathe {

class RotaryEmbedding {
public:
    RotaryEmbedding() = default;
    RotaryEmbedding(const ModelConfig& config, c10::Device device);

    // cos and sin [B, T, rotary_dim] in `dtype` for position_ids [B, T].
    std::pair<at::Tensor, at::Tensor> cos_sin(const at::Tensor& position_ids, at::ScalarType dtype) const;
    int64_t rotary_dim() const { return rotary_dim_; }
    const at::Tensor& inv_freq() const { return inv_freq_; }
    double attention_scaling() const { return attention_scaling_; }

private:
    RopeConfig rope_;
    int64_t rotary_dim_ = 0;
    int64_t max_position_embeddings_ = 0;
    at::Tensor inv_freq_;  // float32 [rotary_dim / 2]
    double attention_scaling_ = 1.0;
};

// x [B, H, T, D]; cos/sin [B, T, rotary_dim]. Features past rotary_dim pass through (partial rotary).
// Through kernels/dispatch.h: the fused op rotates x in place and saves nothing of it, so x is consumed
// (read only the result); LATHE_KERNELS=OFF gives the out-of-place composite.
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace lathe
