// SwiGLU / GeGLU: act(gate) * up as one autograd function that recomputes act(gate) in backward
// (docs/kernels.md).
//
// Contract:
//   gate, up: one shape [..., I], one floating dtype, one device; any strides (the gate and up halves
//   of a fused gate_up projection are views). y = T(T(act(gate)) * up), T the inputs' dtype, act in
//   float32 on CUDA (ATen's own opmath on the CPU).
//   act: Silu (SwiGLU: Llama, Qwen, Mistral), GeluTanh (GeGLU: Gemma's gelu_pytorch_tanh), Gelu (erf).
// Saved for backward: gate and up, which their projections produce anyway; act(gate) is recomputed.
// The composite also keeps act(gate), one more [..., I] tensor per layer.
// Numerics: on the CPU the forward is the composite's ops and the backward ATen's own silu/gelu
// backward on the same products, so both are bit-identical to the composite.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

namespace lathe::kernels {

enum class GateActivation { Silu, Gelu, GeluTanh };

// transformers' hidden_act name -> activation (as core/models/layers.cpp maps them): silu, gelu, gelu_new/gelu_pytorch_tanh/gelu_fast.
// nullopt for the others (relu...), which have no fused op.
std::optional<GateActivation> gate_activation_named(const std::string& hidden_act);

at::Tensor fused_gated_activation(GateActivation act, const at::Tensor& gate, const at::Tensor& up);

}  // namespace lathe::kernels
