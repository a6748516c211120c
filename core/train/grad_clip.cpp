#include "core/train/grad_clip.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/clamp_max.h>
#include <ATen/ops/linalg_vector_norm.h>
#include <ATen/ops/stack.h>

namespace lathe {

at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> grads;
    for (const auto& p : params)
        if (p.grad().defined()) grads.push_back(p.grad());
    if (grads.empty()) return {};
    // One norm per gradient (one kernel launch for all on a GPU), then the norm of those norms.
    std::vector<at::Tensor> norms = at::_foreach_norm(grads, 2);
    at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);
    if (max_norm > 0) {
        // The coefficient stays on the device; 1.0 (no clipping) leaves a gradient bit-for-bit as it was.
        // Python's `max_norm / (total + 1e-6)` is reciprocal() * max_norm.
        at::Tensor coef = at::clamp_max((total + 1e-6).reciprocal() * max_norm, 1.0);
        at::_foreach_mul_(grads, coef);
    }
    return total;
}

}  // namespace lathe
