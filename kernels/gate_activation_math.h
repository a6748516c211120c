// act(gate) and its backward for the gated activations, as ATen computes them: shared by the ops that
// recompute act(gate) in backward (gated_activation.cpp, gated_down_lora.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/gated_activation.h"

namespace lathe::kernels {

at::Tensor gate_activation_forward(GateActivation act, const at::Tensor& gate);
// d act(gate) / d gate applied to grad (ATen's silu_backward / gelu_backward).
at::Tensor gate_activation_backward(GateActivation act, const at::Tensor& grad, const at::Tensor& gate);

}  // namespace lathe::kernels
