// The plain LibTorch compositions of each fused op: what core/ computed before the fused ops, what
// LATHE_KERNELS=OFF uses, and the reference every fused op is tested and benchmarked against. They
// compute in the precision transformers uses (norms in float32, then back to the input's dtype).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/gated_activation.h"

namespace lathe::kernels::composite {

// transformers' LlamaRMSNorm (x in float32, normalised, cast back, times weight) or, with plus_one,
// Gemma's (normalised times 1 + weight, both in float32, then cast back).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one);
// act(gate) * up with the activation's own autograd: saves gate, up and act(gate).
at::Tensor gated_activation(GateActivation act, const at::Tensor& gate, const at::Tensor& up);
// transformers' rotate-half application, x [B, H, T, D], cos/sin [B, T, R]; features past R pass through.
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace lathe::kernels::composite
