// The one entry point core/ calls for each fused op (docs/kernels.md). With LATHE_KERNELS=ON (the
// default) these are the autograd functions of rms_norm.h, gated_activation.h and rotary.h, which run
// the CUDA kernels for CUDA tensors when they were built and ATen everywhere else; with
// LATHE_KERNELS=OFF, or LATHE_FUSED_OPS=0 in the environment, they are the plain LibTorch composites of
// composite.h.
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/fused_ops_setting.h"  // fused_ops_enabled(): which of the two these run
#include "kernels/gated_activation.h"
#include "kernels/linear_cross_entropy.h"

namespace lathe::kernels {

// Whether the CUDA kernels were compiled in (CUDA LibTorch and nvcc found at build time).
bool cuda_kernels_built();

// x [..., D], weight [D]. Gemma's variant (plus_one) scales by (1 + weight).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one);
// act(gate) * up, gate and up of one shape.
at::Tensor gated_activation(GateActivation act, const at::Tensor& gate, const at::Tensor& up);
// x [B, H, T, D], cos/sin [B, T, R], R <= D even. The result may share x's storage: x is consumed (the
// fused op rotates it in place), so callers must not read x afterwards.
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
// The output layer and cross-entropy of hidden [N, H] against targets [N] (linear_cross_entropy.h). The
// fused op holds one chunk of logits at a time in forward and backward; the composite holds the logits
// of every row it is given until its backward, so callers hand it one chunk at a time.
at::Tensor linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& targets,
                                const LinearCrossEntropyOptions& options);
// base + B(A(dropout(x))) * scale (lora_linear.h); dropout 0 outside training. Both draw the dropout
// mask from the same random stream on the CPU.
at::Tensor lora_linear(const at::Tensor& base, const at::Tensor& x, const at::Tensor& A, const at::Tensor& B, double scale, double dropout);
// act(gate) * up through a frozen down projection W (no bias) with its LoRA A, B (gated_down_lora.h): the
// fused op keeps gate and up, not the product; the composite is gated_activation, then lora_linear.
at::Tensor gated_down_lora(GateActivation act, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& W, const at::Tensor& A,
                           const at::Tensor& B, double scale, double dropout);

}  // namespace lathe::kernels
