#include "kernels/lora_linear.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mm.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/dropout_noise.h"

namespace lathe::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// [..., k] -> [rows, k], as at::linear folds its input for the matrix product.
at::Tensor rows(const at::Tensor& t) { return t.reshape({-1, t.size(-1)}); }

struct LoraLinearFunction : public torch::autograd::Function<LoraLinearFunction> {
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& base, const at::Tensor& x, const at::Tensor& A, const at::Tensor& B,
                              double scale, double dropout, const at::Tensor& keep_or_empty) {
        // keep_or_empty: an empty placeholder when the op draws the mask (autograd functions take no
        // undefined inputs).
        at::Tensor keep = keep_or_empty.numel() > 0 ? keep_or_empty : at::Tensor();
        at::Tensor x_d = x;
        if (dropout > 0) {
            if (keep.defined()) {
                x_d = x * dropout_noise_of(keep, x, dropout);
            } else {
                // at::dropout's own draw on the CPU, from the default generator; what backward needs to
                // get the noise back is kept as bits or as a copy of the generator (dropout_noise.h).
                x_d = drop_remembering_noise(*ctx, x, dropout);
            }
        }
        at::Tensor a = at::linear(x_d, A);
        at::Tensor y = base + at::linear(a, B) * scale;
        ctx->save_for_backward({x, a, A, B, dropout > 0 ? keep : at::Tensor()});
        ctx->saved_data["scale"] = scale;
        ctx->saved_data["dropout"] = dropout;
        return y;
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        auto saved = ctx->get_saved_variables();
        const at::Tensor &x = saved[0], &a = saved[1], &A = saved[2], &B = saved[3], &keep = saved[4];
        const double scale = ctx->saved_data["scale"].toDouble(), dropout = ctx->saved_data["dropout"].toDouble();
        const at::Tensor& dy = grads[0];
        const bool need_x = ctx->needs_input_grad(1), need_A = ctx->needs_input_grad(2), need_B = ctx->needs_input_grad(3);
        at::Tensor dx, dA, dB;
        // The composite's chain, op by op: d(B a) = dy * scale, dB = d(B a)^T a, da = d(B a) B,
        // dA = da^T x_d, dx = (da A) * noise.
        at::Tensor d_ba = dy * scale;
        if (need_B) dB = at::mm(rows(d_ba).t(), rows(a));
        if (need_x || need_A) {
            at::Tensor da = at::matmul(d_ba, B);
            // v * the forward's noise: from the given mask, or got back (dropout_noise.h).
            const at::Tensor noise = keep.defined() ? dropout_noise_of(keep, x, dropout) : at::Tensor();
            auto dropped = [&](const at::Tensor& v, bool in_place) {
                if (dropout == 0) return v;
                return noise.defined() ? v * noise : noise_times(*ctx, v, dropout, in_place);
            };
            if (need_A) dA = at::mm(rows(da).t(), rows(dropped(x, false)));
            if (need_x) dx = dropped(at::matmul(da, A), true);
        }
        return {ctx->needs_input_grad(0) ? dy : at::Tensor(), dx, dA, dB, at::Tensor(), at::Tensor(), at::Tensor()};
    }
};

}  // namespace

at::Tensor fused_lora_linear(const at::Tensor& base, const at::Tensor& x, const at::Tensor& A, const at::Tensor& B, double scale,
                             double dropout, const at::Tensor& keep_mask) {
    TORCH_CHECK(x.dim() >= 1 && A.dim() == 2 && B.dim() == 2 && A.size(1) == x.size(-1) && B.size(1) == A.size(0),
                "lora_linear: x [..., in], A [r, in] and B [out, r] expected, got x ", x.sizes(), ", A ", A.sizes(), ", B ", B.sizes());
    TORCH_CHECK(base.dim() == x.dim() && base.size(-1) == B.size(0), "lora_linear: base [..., out] expected, got ", base.sizes());
    TORCH_CHECK(A.scalar_type() == x.scalar_type() && B.scalar_type() == x.scalar_type(), "lora_linear: A and B in x's dtype expected, got ",
                A.scalar_type(), " and ", B.scalar_type(), " for ", x.scalar_type());
    TORCH_CHECK(dropout >= 0 && dropout < 1, "lora_linear: dropout must be in [0, 1), got ", dropout);
    TORCH_CHECK(!keep_mask.defined() || (keep_mask.scalar_type() == at::kBool && keep_mask.sizes() == x.sizes()),
                "lora_linear: keep_mask must be bool of x's shape");
    const at::Tensor keep_or_empty = keep_mask.defined() ? keep_mask : at::empty({0}, x.options().dtype(at::kBool));
    return LoraLinearFunction::apply(base, x, A, B, scale, dropout, keep_or_empty);
}

}  // namespace lathe::kernels
