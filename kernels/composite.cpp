#include "kernels/composite.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/rsqrt.h>
#include <ATen/ops/silu.h>

namespace lathe::kernels::composite {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
    at::Tensor h = x.to(at::kFloat);
    h = h * at::rsqrt(h.pow(2).mean(-1, true) + eps);
    if (plus_one) return (h * (1.0 + weight.to(at::kFloat))).to(x.scalar_type());  // Gemma: scale in float32
    return weight * h.to(x.scalar_type());                                          // Llama: cast, then scale
}

at::Tensor gated_activation(GateActivation act, const at::Tensor& gate, const at::Tensor& up) {
    switch (act) {
        case GateActivation::Silu: return at::silu(gate) * up;
        case GateActivation::Gelu: return at::gelu(gate) * up;
        case GateActivation::GeluTanh: return at::gelu(gate, "tanh") * up;
    }
    TORCH_CHECK(false, "unknown gate activation");
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    const int64_t rotary_dim = cos.size(-1);
    at::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);  // broadcast over heads
    at::Tensor rot = rotary_dim == x.size(-1) ? x : x.narrow(-1, 0, rotary_dim);
    at::Tensor x1 = rot.narrow(-1, 0, rotary_dim / 2), x2 = rot.narrow(-1, rotary_dim / 2, rotary_dim / 2);
    at::Tensor rotated = at::cat({-x2, x1}, -1);
    at::Tensor out = rot * c + rotated * s;
    if (rotary_dim == x.size(-1)) return out;
    return at::cat({out, x.narrow(-1, rotary_dim, x.size(-1) - rotary_dim)}, -1);
}

}  // namespace lathe::kernels::composite
