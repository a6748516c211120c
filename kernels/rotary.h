// Rotary position embedding applied in place, as one autograd function whose backward is the inverse
// rotation (docs/kernels.md).
//
// Contract:
//   x [B, H, T, D] (any strides, e.g. q viewed from [B, T, H * D] and transposed), floating dtype;
//   cos, sin [B, T, R] in x's dtype, R even and R <= D (partial rotary: features past R pass through);
//   the first and second halves of cos/sin may differ (transformers' cat(freqs, freqs) makes them equal).
//   With x1, x2 the two halves of x[..., :R] and c1, c2, s1, s2 those of cos and sin:
//     x1 <- x1 * c1 - x2 * s1,  x2 <- x2 * c2 + x1 * s2     (transformers' x * cos + rotate_half(x) * sin)
//   each product rounded to x's dtype as the composite rounds it.
//   x is overwritten and returned (autograd marks it dirty); x must not be a leaf that requires grad.
// Saved for backward: cos and sin only, computed once per forward and shared by every layer; the
// gradient is the inverse rotation of dy. (The composite saves no more when cos and sin need no
// gradient, its products keep only them.) The gain is in the forward: no negated half, no concatenated
// rotated copy, no new output; the CUDA kernel allocates nothing at all.
#pragma once

#include <ATen/core/Tensor.h>

namespace lathe::kernels {

at::Tensor fused_apply_rotary_(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace lathe::kernels
