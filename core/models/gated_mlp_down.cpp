#include "core/models/gated_mlp_down.h"

#include "core/models/layers.h"
#include "kernels/dispatch.h"

namespace lathe {

namespace {
// Whether kernels::gated_down_lora takes this layer with these activations.
bool plain_lora_down(const Linear& down, const at::Tensor& gate) {
    return down.lora && !down.lora->magnitude.defined() && down.weight.defined() && !down.weight_4bit && !down.bias.defined() &&
           !down.weight.requires_grad() && down.weight.scalar_type() == gate.scalar_type();
}
// Adapters may keep float32 master weights on a bfloat16 model: compute in the activations' dtype (a
// differentiable cast, so the float32 masters receive the gradients), as linear_forward does.
at::Tensor as(const at::Tensor& t, const at::Tensor& like) { return t.scalar_type() == like.scalar_type() ? t : t.to(like.scalar_type()); }
}  // namespace

at::Tensor gated_mlp_down(const Linear& down, const std::string& hidden_act, const at::Tensor& gate, const at::Tensor& up, bool training) {
    const auto act = kernels::gate_activation_named(hidden_act);
    if (act && plain_lora_down(down, gate)) {
        const LoraWeights& lora = *down.lora;
        return kernels::gated_down_lora(*act, gate, up, down.weight, as(lora.A, gate), as(lora.B, gate), lora.scale, training ? lora.dropout : 0.0);
    }
    return linear_forward(down, gated_activation(hidden_act, gate, up), training);
}

}  // namespace lathe
