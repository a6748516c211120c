#include "core/models/layers.h"

#include <ATen/ops/gelu.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/silu.h>

#include "core/util/error.h"
#include "kernels/dispatch.h"

namespace lathe {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
    return kernels::rms_norm(x, weight, eps, plus_one);
}

at::Tensor apply_norm(NormKind kind, const Norm& norm, const at::Tensor& x, double eps) {
    switch (kind) {
        case NormKind::RMS: return rms_norm(x, norm.weight, eps, false);
        case NormKind::RMSPlusOne: return rms_norm(x, norm.weight, eps, true);
        case NormKind::LayerNorm: return at::layer_norm(x, {x.size(-1)}, norm.weight, norm.bias, eps);
    }
    LATHE_ASSERT(false);
    return x;
}

at::Tensor activation(const std::string& name, const at::Tensor& x) {
    if (name == "silu") return at::silu(x);
    if (name == "gelu") return at::gelu(x);
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return at::gelu(x, "tanh");
    if (name == "relu") return at::relu(x);
    throw Error("activation '" + name + "' is not supported");
}

at::Tensor gated_activation(const std::string& name, const at::Tensor& gate, const at::Tensor& up) {
    if (auto act = kernels::gate_activation_named(name)) return kernels::gated_activation(*act, gate, up);
    return activation(name, gate) * up;
}

}  // namespace lathe
