// A LoRA layer's output, base + B(A(dropout(x))) * scale, as one autograd function (docs/kernels.md).
//
// Contract:
//   base [..., out]: the frozen base layer's output (x W^T + b, computed by the caller with its own
//   autograd: a 4-bit weight, a bias); x [..., in]; A [r, in] and B [out, r] in x's dtype (callers cast
//   float32 master adapters with a differentiable cast); scale = alpha / r (or alpha / sqrt(r)).
//   dropout in [0, 1): with dropout > 0 the adapter sees x * keep / (1 - dropout). keep_mask, bool of x's
//   shape, names the kept elements; when it is undefined the op draws it as at::dropout does on the CPU
//   (bernoulli(1 - dropout) on a tensor like x, from the default generator), so a CPU run draws the
//   same mask, from the same random stream, as the composite.
//   y = base + T(T(T(x_d A^T) B^T) * scale), T rounding to x's dtype, the composite's operations.
// Saved for backward: x (kept anyway for the base layer or by whoever made it), a = x_d A^T [..., r],
//   A and B (parameters) and, with dropout, what gives the mask back (dropout_noise.h): on the CPU the
//   kept elements as bits (1/8 byte an element of x; the CPU generator is too slow to draw it again), on
//   CUDA a copy of the random generator from before the draw (a few KiB per call, nothing per element),
//   from which backward draws the mask again. Backward recomputes x_d from x. A given keep_mask is saved
//   instead (its caller holds it anyway). The composite keeps x_d and, on the CPU, the dropout noise in
//   x's dtype (8 bytes an element of x in float32 with x_d, 4 in bfloat16); on CUDA at::dropout keeps
//   x_d and a bool mask. Without dropout both keep x and a, and the op saves only the forward's
//   temporaries.
// Numerics: the composite's own ops in the same order; the backward's products are formed as
//   rows x features matrices (grad^T input), so gradients agree within rounding order (tests: 1e-6 in
//   float32), and a seeded CPU run with a drawn mask gives the composite's results bit for bit.
#pragma once

#include <ATen/core/Tensor.h>

namespace lathe::kernels {

at::Tensor fused_lora_linear(const at::Tensor& base, const at::Tensor& x, const at::Tensor& A, const at::Tensor& B, double scale,
                             double dropout, const at::Tensor& keep_mask = {});

}  // namespace lathe::kernels
