// Gradient clipping by total norm, as torch.nn.utils.clip_grad_norm_ computes it.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace lathe {

// The L2 norm over every defined gradient of `params` (a float32 scalar on their device), and, when
// max_norm > 0, every gradient scaled by min(1, max_norm / (norm + 1e-6)). Reads nothing back from the
// device: the caller reads the norm when it logs it. Undefined when no parameter has a gradient.
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

class DataParallel;
// The same when each rank holds the gradients of its own tensors only (ZeRO-2): every tensor's norm,
// computed by the rank that has its gradient, is summed across the ranks into one vector, and the total
// is the norm of that vector, as above. Each rank scales the gradients it holds. A collective.
at::Tensor clip_grad_norm_over_ranks(const std::vector<at::Tensor>& params, double max_norm, DataParallel& group);

}  // namespace lathe
