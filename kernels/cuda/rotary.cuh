// CUDA rotary embedding in place (contract in ../rotary.h). x [B, H, T, D] with any strides, cos/sin
// [B or 1, T, R] of x's dtype among float32, bfloat16, float16, all on one CUDA device. One thread per
// (b, h, t, i < R/2) pair of features, float32 math, the composite's roundings.
#pragma once

#include <ATen/core/Tensor.h>

namespace lathe::kernels::cuda {

// inverse = false: the rotation; true: its transpose (the gradient).
void rotary_(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, bool inverse);

}  // namespace lathe::kernels::cuda
