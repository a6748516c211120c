#include "kernels/gated_activation.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/gelu_backward.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/silu_backward.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/cuda_kernel_use.h"
#include "kernels/gate_activation_math.h"

#ifdef LATHE_KERNELS_CUDA
#include "kernels/cuda/gated_activation.cuh"
#endif

namespace lathe::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct GatedActivationFunction : public torch::autograd::Function<GatedActivationFunction> {
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up, int64_t act_code) {
        const auto act = static_cast<GateActivation>(act_code);
        at::Tensor y;
        if (cuda_kernel_takes(gate, {up}) && gate.numel() > 0) {
#ifdef LATHE_KERNELS_CUDA
            y = cuda::gated_activation_forward(act, gate, up);
#endif
        } else {
            y = gate_activation_forward(act, gate) * up;
        }
        ctx->save_for_backward({gate, up});
        ctx->saved_data["act"] = act_code;
        return y;
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        auto saved = ctx->get_saved_variables();
        const at::Tensor &gate = saved[0], &up = saved[1];
        const auto act = static_cast<GateActivation>(ctx->saved_data["act"].toInt());
        const at::Tensor& dy = grads[0];
        const bool need_gate = ctx->needs_input_grad(0), need_up = ctx->needs_input_grad(1);
        at::Tensor dgate, dup;
        if (cuda_kernel_takes(gate, {up}) && gate.numel() > 0 && dy.scalar_type() == gate.scalar_type()) {
#ifdef LATHE_KERNELS_CUDA
            std::tie(dgate, dup) = cuda::gated_activation_backward(act, dy, gate, up, need_gate, need_up);
#endif
        } else {
            // The same products the composite's autograd forms: d up = dy * act(gate), d act = dy * up.
            if (need_up) dup = dy * gate_activation_forward(act, gate);
            if (need_gate) dgate = gate_activation_backward(act, dy * up, gate);
        }
        return {dgate, dup, at::Tensor()};
    }
};

}  // namespace

at::Tensor gate_activation_forward(GateActivation act, const at::Tensor& gate) {
    switch (act) {
        case GateActivation::Silu: return at::silu(gate);
        case GateActivation::Gelu: return at::gelu(gate);
        case GateActivation::GeluTanh: return at::gelu(gate, "tanh");
    }
    TORCH_CHECK(false, "unknown gate activation");
}

at::Tensor gate_activation_backward(GateActivation act, const at::Tensor& grad, const at::Tensor& gate) {
    switch (act) {
        case GateActivation::Silu: return at::silu_backward(grad, gate);
        case GateActivation::Gelu: return at::gelu_backward(grad, gate);
        case GateActivation::GeluTanh: return at::gelu_backward(grad, gate, "tanh");
    }
    TORCH_CHECK(false, "unknown gate activation");
}

std::optional<GateActivation> gate_activation_named(const std::string& hidden_act) {
    if (hidden_act == "silu") return GateActivation::Silu;
    if (hidden_act == "gelu") return GateActivation::Gelu;
    if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh" || hidden_act == "gelu_fast") return GateActivation::GeluTanh;
    return std::nullopt;
}

at::Tensor fused_gated_activation(GateActivation act, const at::Tensor& gate, const at::Tensor& up) {
    TORCH_CHECK(gate.sizes() == up.sizes(), "gated_activation: gate and up of one shape expected, got ", gate.sizes(), " and ",
                up.sizes());
    TORCH_CHECK(at::isFloatingType(gate.scalar_type()) && at::isFloatingType(up.scalar_type()),
                "gated_activation: floating-point gate and up expected");
    return GatedActivationFunction::apply(gate, up, static_cast<int64_t>(act));
}

}  // namespace lathe::kernels
