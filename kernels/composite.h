// The plain LibTorch compositions of each fused op: what core/ computed before the fused ops, what
// LATHE_KERNELS=OFF uses, and the reference every fused op is tested and benchmarked against. They
// compute in the precision transformers uses (norms in float32, then back to the input's dtype).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/gated_activation.h"
#include "kernels/linear_cross_entropy.h"

namespace lathe::kernels::composite {

// transformers' LlamaRMSNorm (x in float32, normalised, cast back, times weight) or, with plus_one,
// Gemma's (normalised times 1 + weight, both in float32, then cast back).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one);
// act(gate) * up with the activation's own autograd: saves gate, up and act(gate).
at::Tensor gated_activation(GateActivation act, const at::Tensor& gate, const at::Tensor& up);
// transformers' rotate-half application, x [B, H, T, D], cos/sin [B, T, R]; features past R pass through.
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// The output layer's logits of every row, in the model's dtype then float32, and at::cross_entropy_loss
// (summed, or mean with options.mean) divided by options.divisor; options.chunk_rows is not used: callers
// that must not hold [N, V] logits call it one chunk at a time and differentiate each chunk's loss before
// the next (what core/train/train_step.cpp did before the fused op).
at::Tensor linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& targets,
                                const LinearCrossEntropyOptions& options);
// base + B(A(dropout(x))) * scale with autograd through each op, as core/models/linear.cpp computed it.
// Dropout: with dropout > 0 and no keep_mask, at::dropout(x, dropout, train=true); with a bool keep_mask,
// x * (keep_mask / (1 - dropout)), what at::dropout computes on the CPU from that mask.
at::Tensor lora_linear(const at::Tensor& base, const at::Tensor& x, const at::Tensor& A, const at::Tensor& B, double scale, double dropout,
                       const at::Tensor& keep_mask = {});

// The down projection of a gated MLP with its LoRA, as core/ composed it: lora_linear(h W^T, h, A, B, ...)
// of h = gated_activation(act, gate, up).
at::Tensor gated_down_lora(GateActivation act, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& W, const at::Tensor& A,
                           const at::Tensor& B, double scale, double dropout);

}  // namespace lathe::kernels::composite
