// RMSNorm as one autograd function with a hand-written backward (docs/kernels.md).
//
// Contract:
//   x [..., D] float32, bfloat16 or float16; weight [D].
//   plus_one = false (Llama, Qwen, Mistral...): y = weight * cast(x_f32 * rstd), y in the promoted dtype of
//     x and weight (x's dtype when they match), as transformers' LlamaRMSNorm.
//   plus_one = true (Gemma): y = cast(x_f32 * rstd * (1 + weight_f32)), y in x's dtype.
//   rstd = 1 / sqrt(mean(x_f32^2, -1) + eps), per row, in float32.
// Saved for backward: x (already kept by whoever produced it), weight (a parameter) and rstd, float32
// [..., 1], 4 bytes a row. Besides rstd the composite keeps a float32 copy of x when x is not float32
// (bfloat16 training: 4 bytes an element) and the normalised rows when the weight is trained.
// Numerics: on the CPU (and on CUDA without the kernels) the forward runs the composite's own ATen ops,
// so y is bit-identical to composite::rms_norm; the backward is the analytic gradient in float32.
// The CUDA kernel (cuda/rms_norm.cuh) is used for CUDA tensors when x and weight share a dtype.
#pragma once

#include <ATen/core/Tensor.h>

namespace lathe::kernels {

at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one);

}  // namespace lathe::kernels
