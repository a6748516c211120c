#include "kernels/rms_norm.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/rsqrt.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/cuda_kernel_use.h"

#ifdef LATHE_KERNELS_CUDA
#include "kernels/cuda/rms_norm.cuh"
#endif

namespace lathe::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Every dimension but the last: the rows weight's gradient sums over.
std::vector<int64_t> row_dims(const at::Tensor& x) {
    std::vector<int64_t> dims(static_cast<size_t>(x.dim() - 1));
    for (int64_t i = 0; i + 1 < x.dim(); ++i) dims[static_cast<size_t>(i)] = i;
    return dims;
}

struct RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
        at::Tensor y, rstd;
        if (cuda_kernel_takes(x, {weight}) && x.numel() > 0) {
#ifdef LATHE_KERNELS_CUDA
            std::tie(y, rstd) = cuda::rms_norm_forward(x, weight, eps, plus_one);
#endif
        } else {
            // The composite's own operations, so the result is bit-identical to it.
            at::Tensor h = x.to(at::kFloat);
            rstd = at::rsqrt(h.pow(2).mean(-1, true) + eps);
            h = h * rstd;
            y = plus_one ? (h * (1.0 + weight.to(at::kFloat))).to(x.scalar_type()) : weight * h.to(x.scalar_type());
        }
        ctx->save_for_backward({x, weight, rstd});
        ctx->saved_data["plus_one"] = plus_one;
        return y;
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        auto saved = ctx->get_saved_variables();
        const at::Tensor &x = saved[0], &weight = saved[1], &rstd = saved[2];
        const bool plus_one = ctx->saved_data["plus_one"].toBool();
        const at::Tensor& dy = grads[0];
        const bool need_x = ctx->needs_input_grad(0), need_weight = ctx->needs_input_grad(1);
        at::Tensor dx, dweight;
        if (cuda_kernel_takes(x, {weight}) && x.numel() > 0 && dy.scalar_type() == x.scalar_type()) {
#ifdef LATHE_KERNELS_CUDA
            std::tie(dx, dweight) = cuda::rms_norm_backward(dy, x, weight, rstd, plus_one, need_x, need_weight);
#endif
        } else {
            // Few full-size float32 temporaries: the backward's peak is what the op is about.
            at::Tensor xf = x.to(at::kFloat), dyf = dy.to(at::kFloat);
            if (need_weight) {
                // Llama scales the rows already cast to x's dtype; Gemma the float32 rows.
                at::Tensor n = xf * rstd;  // the normalised rows, recomputed rather than saved
                if (!plus_one) n = n.to(x.scalar_type()).to(at::kFloat);
                n.mul_(dyf);
                // sum() over no dimensions would sum everything: a single row is its own gradient.
                dweight = (x.dim() == 1 ? n : n.sum(row_dims(x))).to(weight.scalar_type());
            }
            if (need_x) {
                at::Tensor dn = plus_one ? dyf * (1.0 + weight.to(at::kFloat)) : (dy * weight).to(at::kFloat);
                // d/dx of x * rstd: rstd * dn - x * rstd^3 * mean(dn * x)
                at::Tensor coef = rstd.pow(3) * (dn * xf).mean(-1, true);
                dx = dn.mul_(rstd).sub_(xf * coef).to(x.scalar_type());
            }
        }
        return {dx, dweight, at::Tensor(), at::Tensor()};
    }
};

}  // namespace

at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
    TORCH_CHECK(x.dim() >= 1 && weight.dim() == 1 && weight.size(0) == x.size(-1), "rms_norm: x [..., D] and weight [D] expected, got x ",
                x.sizes(), " and weight ", weight.sizes());
    TORCH_CHECK(at::isFloatingType(x.scalar_type()) && at::isFloatingType(weight.scalar_type()),
                "rms_norm: floating-point x and weight expected");
    return RmsNormFunction::apply(x, weight, eps, plus_one);
}

}  // namespace lathe::kernels
