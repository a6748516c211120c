#include "kernels/rotary.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/mul.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/cuda_kernel_use.h"

#ifdef LATHE_KERNELS_CUDA
#include "kernels/cuda/rotary.cuh"
#endif

namespace lathe::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The halves [..., :R/2] and [..., R/2:R] of t's last dimension.
std::pair<at::Tensor, at::Tensor> halves(const at::Tensor& t, int64_t rotary_dim) {
    return {t.narrow(-1, 0, rotary_dim / 2), t.narrow(-1, rotary_dim / 2, rotary_dim / 2)};
}

// In place: x1 <- x1 * c1 - x2 * s1, x2 <- x2 * c2 + x1 * s2, each product rounded to x's dtype as the
// composite rounds it (so the result is bit-identical). One half-size temporary at a time.
void rotate_(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t rotary_dim) {
    auto [x1, x2] = halves(x, rotary_dim);
    auto [c1, c2] = halves(cos.unsqueeze(1), rotary_dim);
    auto [s1, s2] = halves(sin.unsqueeze(1), rotary_dim);
    at::Tensor x1_s2 = x1 * s2;  // the original x1's share of the second half
    x1.mul_(c1).sub_(x2 * s1);
    x2.mul_(c2).add_(x1_s2);
}

// The transposed rotation of dy into a new tensor, without temporaries: dx1 = dy1 * c1 + dy2 * s2,
// dx2 = dy2 * c2 - dy1 * s1; features past rotary_dim pass through.
at::Tensor rotate_back(const at::Tensor& dy, const at::Tensor& cos, const at::Tensor& sin, int64_t rotary_dim) {
    at::Tensor dx = at::empty_like(dy);
    auto [g1, g2] = halves(dy, rotary_dim);
    auto [c1, c2] = halves(cos.unsqueeze(1), rotary_dim);
    auto [s1, s2] = halves(sin.unsqueeze(1), rotary_dim);
    auto [o1, o2] = halves(dx, rotary_dim);
    at::mul_out(o1, g1, c1).addcmul_(g2, s2);
    at::mul_out(o2, g2, c2).addcmul_(g1, s1, -1);
    const int64_t rest = dy.size(-1) - rotary_dim;
    if (rest > 0) dx.narrow(-1, rotary_dim, rest).copy_(dy.narrow(-1, rotary_dim, rest));
    return dx;
}

struct RotaryFunction : public torch::autograd::Function<RotaryFunction> {
    static at::Tensor forward(AutogradContext* ctx, at::Tensor x, const at::Tensor& cos, const at::Tensor& sin) {
        const int64_t rotary_dim = cos.size(-1);
        if (cuda_kernel_takes(x, {cos, sin})) {
#ifdef LATHE_KERNELS_CUDA
            cuda::rotary_(x, cos, sin, /*inverse=*/false);
#endif
        } else {
            rotate_(x, cos, sin, rotary_dim);
        }
        ctx->mark_dirty({x});
        ctx->save_for_backward({cos, sin});
        return x;
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        auto saved = ctx->get_saved_variables();
        const at::Tensor &cos = saved[0], &sin = saved[1];
        const int64_t rotary_dim = cos.size(-1);
        const at::Tensor& dy = grads[0];
        at::Tensor dx;
        if (cuda_kernel_takes(dy, {cos, sin})) {
#ifdef LATHE_KERNELS_CUDA
            // A copy rotated in place: the incoming gradient may be shared with other consumers.
            dx = dy.clone();
            cuda::rotary_(dx, cos, sin, /*inverse=*/true);
#endif
        } else {
            dx = rotate_back(dy, cos, sin, rotary_dim);
        }
        return {dx, at::Tensor(), at::Tensor()};
    }
};

}  // namespace

at::Tensor fused_apply_rotary_(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    TORCH_CHECK(x.dim() == 4 && cos.dim() == 3 && sin.sizes() == cos.sizes(), "apply_rotary: x [B, H, T, D] and cos/sin [B, T, R] expected, got x ",
                x.sizes(), ", cos ", cos.sizes(), ", sin ", sin.sizes());
    const int64_t rotary_dim = cos.size(-1);
    TORCH_CHECK(rotary_dim % 2 == 0 && rotary_dim <= x.size(3), "apply_rotary: rotary dimension ", rotary_dim,
                " must be even and at most the head dimension ", x.size(3));
    TORCH_CHECK((cos.size(0) == x.size(0) || cos.size(0) == 1) && cos.size(1) == x.size(2),
                "apply_rotary: cos/sin [B, T, R] do not match x ", x.sizes(), ": ", cos.sizes());
    TORCH_CHECK(at::isFloatingType(x.scalar_type()), "apply_rotary: floating-point x expected");
    TORCH_CHECK(!(x.is_leaf() && x.requires_grad()), "apply_rotary: x is rotated in place and cannot be a leaf that requires grad");
    return RotaryFunction::apply(x, cos, sin);
}

}  // namespace lathe::kernels
