// The down projection of a gated MLP (SwiGLU / GeGLU) applied to act(gate) * up, as mlp_block needs it.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "core/models/linear.h"

namespace lathe {

// down(act(gate) * up). A plain LoRA adapter on a frozen float weight without bias (every gated MLP we
// load) goes through kernels::gated_down_lora, which keeps gate and up for backward but not their
// product; DoRA, 4-bit or trained weights, and activations without a fused op take gated_activation and
// linear_forward as before. Both draw the adapter's dropout mask at the same point of the random stream.
at::Tensor gated_mlp_down(const Linear& down, const std::string& hidden_act, const at::Tensor& gate, const at::Tensor& up, bool training);

}  // namespace lathe
