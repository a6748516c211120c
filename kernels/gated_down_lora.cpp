#include "kernels/gated_down_lora.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mm.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/dropout_noise.h"
#include "kernels/gate_activation_math.h"

namespace lathe::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// [..., k] -> [rows, k], as at::linear folds its input for the matrix product.
at::Tensor rows(const at::Tensor& t) { return t.reshape({-1, t.size(-1)}); }

struct GatedDownLoraFunction : public torch::autograd::Function<GatedDownLoraFunction> {
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& W, const at::Tensor& A,
                              const at::Tensor& B, double scale, double dropout, int64_t act_code) {
        const auto act = static_cast<GateActivation>(act_code);
        // The gated activation's and the LoRA linear's forward, op for op.
        at::Tensor h = gate_activation_forward(act, gate) * up;
        at::Tensor base = at::linear(h, W);
        at::Tensor h_d = h;
        if (dropout > 0) h_d = drop_remembering_noise(*ctx, h, dropout);
        at::Tensor a = at::linear(h_d, A);
        at::Tensor y = base + at::linear(a, B) * scale;
        ctx->save_for_backward({gate, up, a, W, A, B});
        ctx->saved_data["scale"] = scale;
        ctx->saved_data["dropout"] = dropout;
        ctx->saved_data["act"] = act_code;
        return y;
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        auto saved = ctx->get_saved_variables();
        const at::Tensor &gate = saved[0], &up = saved[1], &a = saved[2], &W = saved[3], &A = saved[4], &B = saved[5];
        const double scale = ctx->saved_data["scale"].toDouble(), dropout = ctx->saved_data["dropout"].toDouble();
        const auto act = static_cast<GateActivation>(ctx->saved_data["act"].toInt());
        const at::Tensor& dy = grads[0];
        const bool need_gate = ctx->needs_input_grad(0), need_up = ctx->needs_input_grad(1);
        const bool need_A = ctx->needs_input_grad(3), need_B = ctx->needs_input_grad(4);
        at::Tensor dgate, dup, dA, dB;
        // The LoRA linear's backward (lora_linear.cpp), with h recomputed.
        at::Tensor d_ba = dy * scale;
        if (need_B) dB = at::mm(rows(d_ba).t(), rows(a));
        if (need_gate || need_up || need_A) {
            // One [..., I] temporary after another, each freed when done with: this op's point is memory.
            at::Tensor act_gate = gate_activation_forward(act, gate);
            at::Tensor da = at::matmul(d_ba, B);
            if (need_A) {
                at::Tensor h_d = act_gate * up;  // h, then h_d with the forward's noise (dropout_noise.h)
                if (dropout > 0) noise_times(*ctx, h_d, dropout, /*in_place=*/true);
                dA = at::mm(rows(da).t(), rows(h_d));
            }
            if (need_gate || need_up) {
                // dh from the base product (dy W) and from the adapter; autograd adds the two the same way
                // (a sum of two terms does not depend on their order).
                at::Tensor dh = at::matmul(dy, W);
                {
                    at::Tensor dh_lora = at::matmul(da, A);
                    if (dropout > 0) noise_times(*ctx, dh_lora, dropout, /*in_place=*/true);
                    dh.add_(dh_lora);
                }
                // The gated activation's backward (gated_activation.cpp).
                if (need_up) dup = dh * act_gate;
                act_gate.reset();
                if (need_gate) dgate = gate_activation_backward(act, dh.mul_(up), gate);
            }
        }
        return {dgate, dup, at::Tensor(), dA, dB, at::Tensor(), at::Tensor(), at::Tensor()};
    }
};

}  // namespace

at::Tensor fused_gated_down_lora(GateActivation act, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& W, const at::Tensor& A,
                                 const at::Tensor& B, double scale, double dropout) {
    TORCH_CHECK(gate.sizes() == up.sizes() && gate.scalar_type() == up.scalar_type(), "gated_down_lora: gate and up of one shape and dtype expected");
    TORCH_CHECK(W.dim() == 2 && W.size(1) == gate.size(-1) && A.dim() == 2 && A.size(1) == gate.size(-1) && B.dim() == 2 &&
                    B.size(0) == W.size(0) && B.size(1) == A.size(0),
                "gated_down_lora: W [out, I], A [r, I] and B [out, r] expected, got W ", W.sizes(), ", A ", A.sizes(), ", B ", B.sizes(),
                " for gate ", gate.sizes());
    TORCH_CHECK(W.scalar_type() == gate.scalar_type() && A.scalar_type() == gate.scalar_type() && B.scalar_type() == gate.scalar_type(),
                "gated_down_lora: W, A and B in gate's dtype expected");
    TORCH_CHECK(!W.requires_grad(), "gated_down_lora: the base weight must be frozen (no gradient)");
    TORCH_CHECK(dropout >= 0 && dropout < 1, "gated_down_lora: dropout must be in [0, 1), got ", dropout);
    return GatedDownLoraFunction::apply(gate, up, W, A, B, scale, dropout, static_cast<int64_t>(act));
}

}  // namespace lathe::kernels
