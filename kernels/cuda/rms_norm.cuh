// CUDA RMSNorm (contract in ../rms_norm.h). x, weight (and dy) on one CUDA device, one dtype among
// float32, bfloat16, float16; any layout (made contiguous). One block per row, float32 accumulation.
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>

namespace lathe::kernels::cuda {

// Returns y (x's shape and dtype) and rstd (float32, x's shape with last dim 1).
std::tuple<at::Tensor, at::Tensor> rms_norm_forward(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one);
// Returns dx and dweight; each undefined when not asked for.
std::tuple<at::Tensor, at::Tensor> rms_norm_backward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                                                     const at::Tensor& rstd, bool plus_one, bool need_x, bool need_weight);

}  // namespace lathe::kernels::cuda
