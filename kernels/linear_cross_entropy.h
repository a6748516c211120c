// The output layer and the cross-entropy loss as one autograd function that works through the rows in
// chunks, so [rows, vocab] logits never exist whole, neither in the forward nor in the backward pass
// (docs/kernels.md).
//
// Contract:
//   hidden [N, H] and weight [V, H] (the lm_head) of one floating dtype, bias [V] or undefined,
//   targets [N] int64 on hidden's device; rows whose target is ignore_index add nothing.
//   Each chunk's logits are at::linear(hidden, weight, bias) in the model's dtype, then float32, as the
//   composite computes them. The loss is PyTorch's cross_entropy with label_smoothing (per row
//   (1 - e) * nll + e * (logsumexp - mean of the logits)), summed over the rows in float64, divided by
//   `divisor` (train_step: the label tokens of the global batch) and, with `mean`, by the rows that are
//   not ignored, returned as a float32 scalar.
// Saved for backward: hidden, weight, bias and targets (inputs: references, no memory) and the
//   logsumexp of each row, float32, 4 bytes a row. The backward recomputes each chunk's logits and turns
//   them in place into their gradient (softmax - target distribution), so one chunk of float32 logits
//   and its copy in the model's dtype are all it holds beside the gradients it returns.
//   The composite (full logits, then at::cross_entropy_loss) keeps the [N, V] float32 log-softmax and
//   allocates [N, V] logits in the model's dtype, a float32 copy and a float32 gradient.
// gradients_in_forward (Liger Kernel's way): for a caller that differentiates the loss right after the
//   forward (train_step), the forward turns each chunk's logits into their gradient at once and forms
//   the gradients the caller needs (those of inputs that require grad, with grad mode on): grad_hidden
//   [N, H] in hidden's dtype, and grad_weight [V, H] / grad_bias [V] for a trained head. It keeps them
//   instead of the inputs, and backward scales them by the loss's gradient (exact for the usual 1) and
//   hands them over, once: a second backward through the same graph is an error. This saves one
//   [chunk, H] x [H, V] product per chunk (3 products become 2 with a frozen head, 4 become 3 when it
//   trains); the gradients are no larger than those backward would allocate, but they live from the
//   forward on, so a caller that runs more between forward and backward should leave it off.
// Numerics: float32 results equal the composite's within rounding order; grad_weight is accumulated
//   chunk by chunk in the weight's dtype (the composite forms it in one product).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace lathe::kernels {

struct LinearCrossEntropyOptions {
    int64_t ignore_index = -100;
    double label_smoothing = 0.0;  // in [0, 1]
    bool mean = false;             // divide by the rows not ignored (PyTorch's reduction='mean')
    double divisor = 1.0;          // the summed loss is divided by it
    int64_t chunk_rows = 1024;     // rows whose logits exist at a time (fused op only)
    bool gradients_in_forward = false;  // form the gradients in the forward (see above; fused op only)
};

at::Tensor fused_linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& targets,
                                      const LinearCrossEntropyOptions& options);

}  // namespace lathe::kernels
