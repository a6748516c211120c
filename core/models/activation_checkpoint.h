// Activation (gradient) checkpointing: run a block without keeping its activations, and run it again
// during backward to get them. Trades one extra forward pass per block for memory that no longer grows
// with the number of layers.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

namespace lathe {

// Returns fn(x). When x requires grad, fn's intermediate tensors are freed after the forward pass and
// recomputed in backward, with the random-number state of the first run (dropout masks match).
// Gradients reach x and every leaf tensor fn uses (adapter weights), as without checkpointing.
at::Tensor checkpointed(const std::function<at::Tensor(const at::Tensor&)>& fn, const at::Tensor& x);

}  // namespace lathe
