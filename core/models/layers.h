// The small functions every architecture is built from. Each computes in the precision transformers
// uses for it (norms in float32, then back to the input's dtype) so float32 results match to rounding.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "core/models/architecture.h"

namespace lathe {

struct Norm {
    at::Tensor weight;
    at::Tensor bias;  // LayerNorm only
};

// Through kernels/dispatch.h: the fused RMSNorm (saves x and the per-row inverse RMS) unless the build
// has LATHE_KERNELS=OFF. Gemma's variant (plus_one) scales by 1 + weight.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one);
at::Tensor apply_norm(NormKind kind, const Norm& norm, const at::Tensor& x, double eps);
// silu, gelu (erf), gelu_new / gelu_pytorch_tanh / gelu_fast (tanh approximation), relu.
at::Tensor activation(const std::string& name, const at::Tensor& x);
// activation(name, gate) * up; the fused SwiGLU/GeGLU of kernels/dispatch.h for silu and the gelus.
at::Tensor gated_activation(const std::string& name, const at::Tensor& gate, const at::Tensor& up);

}  // namespace lathe
