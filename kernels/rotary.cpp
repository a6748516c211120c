#include "kernels/rotary.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty_like.h>
#include <torch/csrc/autograd/custom_function.h>

#ifdef LATHE_KERNELS_CUDA
#include "kernels/cuda/rotary.cuh"
#endif

namespace lathe::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool use_cuda_kernel(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
#ifdef LATHE_KERNELS_CUDA
    return x.is_cuda() && cos.is_cuda() && sin.is_cuda() && cos.scalar_type() == x.scalar_type() &&
           sin.scalar_type() == x.scalar_type();
#else
    (void)x;
    (void)cos;
    (void)sin;
    return false;
#endif
}

// The halves [..., :R/2] and [..., R/2:R] of t's last dimension.
std::pair<at::Tensor, at::Tensor> halves(const at::Tensor& t, int64_t rotary_dim) {
    return {t.narrow(-1, 0, rotary_dim / 2), t.narrow(-1, rotary_dim / 2, rotary_dim / 2)};
}

// Forward: out1 = a1 * c1 - a2 * s1, out2 = a2 * c2 + a1 * s2. Inverse (the transposed rotation, the
// gradient): out1 = a1 * c1 + a2 * s2, out2 = a2 * c2 - a1 * s1.
// Both halves are computed before either is written, so `out` may be `a`.
void rotate(const at::Tensor& a, const at::Tensor& cos, const at::Tensor& sin, int64_t rotary_dim, const at::Tensor& out, bool inverse) {
    auto [a1, a2] = halves(a, rotary_dim);
    auto [c1, c2] = halves(cos.unsqueeze(1), rotary_dim);
    auto [s1, s2] = halves(sin.unsqueeze(1), rotary_dim);
    at::Tensor first = inverse ? a1 * c1 + a2 * s2 : a1 * c1 - a2 * s1;
    at::Tensor second = inverse ? a2 * c2 - a1 * s1 : a2 * c2 + a1 * s2;
    auto [o1, o2] = halves(out, rotary_dim);
    o1.copy_(first);
    o2.copy_(second);
}

struct RotaryFunction : public torch::autograd::Function<RotaryFunction> {
    static at::Tensor forward(AutogradContext* ctx, at::Tensor x, const at::Tensor& cos, const at::Tensor& sin) {
        const int64_t rotary_dim = cos.size(-1);
        if (use_cuda_kernel(x, cos, sin)) {
#ifdef LATHE_KERNELS_CUDA
            cuda::rotary_(x, cos, sin, /*inverse=*/false);
#endif
        } else {
            rotate(x, cos, sin, rotary_dim, x, /*inverse=*/false);
        }
        ctx->mark_dirty({x});
        ctx->save_for_backward({cos, sin});
        return x;
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        auto saved = ctx->get_saved_variables();
        const at::Tensor &cos = saved[0], &sin = saved[1];
        const int64_t rotary_dim = cos.size(-1);
        // A fresh tensor: the incoming gradient may be shared with other consumers.
        at::Tensor dx = grads[0].clone();
        if (use_cuda_kernel(dx, cos, sin)) {
#ifdef LATHE_KERNELS_CUDA
            cuda::rotary_(dx, cos, sin, /*inverse=*/true);
#endif
        } else {
            rotate(dx, cos, sin, rotary_dim, dx, /*inverse=*/true);
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
