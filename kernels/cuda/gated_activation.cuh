// CUDA SwiGLU / GeGLU (contract in ../gated_activation.h). gate, up (and dy) on one CUDA device, one
// dtype among float32, bfloat16, float16. Rows may be strided (the halves of a gate_up projection);
// other layouts are made contiguous. Elementwise, float32 math.
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>

#include "kernels/gated_activation.h"

namespace lathe::kernels::cuda {

// act(gate) * up, contiguous, gate's shape and dtype.
at::Tensor gated_activation_forward(GateActivation act, const at::Tensor& gate, const at::Tensor& up);
// d gate and d up (contiguous; each undefined when not asked for), act(gate) recomputed.
std::tuple<at::Tensor, at::Tensor> gated_activation_backward(GateActivation act, const at::Tensor& dy, const at::Tensor& gate,
                                                             const at::Tensor& up, bool need_gate, bool need_up);

}  // namespace lathe::kernels::cuda
