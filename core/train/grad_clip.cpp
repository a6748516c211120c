#include "core/train/grad_clip.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/clamp_max.h>
#include <ATen/ops/linalg_vector_norm.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>

#include "core/train/data_parallel.h"

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

at::Tensor clip_grad_norm_over_ranks(const std::vector<at::Tensor>& params, double max_norm, DataParallel& group) {
    at::NoGradGuard no_grad;
    if (params.empty()) return {};
    std::vector<at::Tensor> grads;
    std::vector<int64_t> where;
    for (size_t i = 0; i < params.size(); ++i)
        if (params[i].grad().defined()) {
            grads.push_back(params[i].grad());
            where.push_back(static_cast<int64_t>(i));
        }
    at::Tensor norms = at::zeros({static_cast<int64_t>(params.size())}, params[0].options().dtype(at::kFloat).requires_grad(false));
    if (!grads.empty()) {
        std::vector<at::Tensor> mine = at::_foreach_norm(grads, 2);
        for (size_t k = 0; k < mine.size(); ++k) norms.select(0, where[k]).copy_(mine[k]);
    }
    group.start_sum(norms);  // each tensor's norm comes from one rank; the others add zeros
    group.wait_started();
    at::Tensor total = at::linalg_vector_norm(norms, 2);
    if (max_norm > 0 && !grads.empty()) {
        at::Tensor coef = at::clamp_max((total + 1e-6).reciprocal() * max_norm, 1.0);
        at::_foreach_mul_(grads, coef);
    }
    return total;
}

}  // namespace lathe
