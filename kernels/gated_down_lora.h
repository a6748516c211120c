// The down projection of a gated MLP (SwiGLU / GeGLU) with its LoRA adapter, from gate and up, as one
// autograd function (docs/kernels.md):
//   h = act(gate) * up,   y = h W^T + B(A(dropout(h))) * scale
// It keeps neither h nor act(gate): backward recomputes them from gate and up. Separately, the gated
// activation keeps gate and up and the LoRA linear keeps its input h, one more [..., I] tensor per layer
// (the largest activation of a layer after gate and up themselves).
//
// Contract:
//   act: as gated_activation.h. gate, up [..., I] of one dtype; W [out, I] the frozen base weight in
//   gate's dtype, no bias (Llama, Qwen, Mistral, Gemma and Phi-3 have none on down_proj), no gradient
//   (a W that requires grad is refused: full finetuning keeps the separate ops); A [r, I] and B [out, r]
//   in gate's dtype (float32 masters cast outside, with autograd); dropout in [0, 1), drawn as
//   at::dropout draws it on the CPU (dropout_noise.h), from the default generator, after anything the
//   caller drew before (the same random stream as the separate ops).
// Saved for backward: gate and up (which the gated activation would keep), a = A(h_d) [..., r], W, A and
//   B, and with dropout the mask as bits on the CPU (1/8 byte an element of h) or a copy of the generator
//   from before the draw on CUDA (dropout_noise.h). h, act(gate), h_d and the noise are recomputed; the
//   base product h W^T is not (backward needs only dy W).
// Numerics: the separate ops' own ATen operations in the same order, forward and backward: a seeded CPU
//   run equals the composite (gated activation, then the LoRA linear) within rounding order (tests: 1e-6
//   in float32; ATen may pick another product kernel where a dimension is 1).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/gated_activation.h"

namespace lathe::kernels {

at::Tensor fused_gated_down_lora(GateActivation act, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& W, const at::Tensor& A,
                                 const at::Tensor& B, double scale, double dropout);

}  // namespace lathe::kernels
