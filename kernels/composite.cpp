#include "kernels/composite.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/linear.h>
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

at::Tensor linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& targets,
                                const LinearCrossEntropyOptions& options) {
    at::Tensor logits = at::linear(hidden, weight, bias).to(at::kFloat);
    at::Tensor loss = at::cross_entropy_loss(logits, targets, {}, options.mean ? at::Reduction::Mean : at::Reduction::Sum,
                                             options.ignore_index, options.label_smoothing);
    return options.divisor == 1.0 ? loss : loss / options.divisor;
}

at::Tensor lora_linear(const at::Tensor& base, const at::Tensor& x, const at::Tensor& A, const at::Tensor& B, double scale, double dropout,
                       const at::Tensor& keep_mask) {
    at::Tensor adapter_in = x;
    if (dropout > 0) adapter_in = keep_mask.defined() ? x * keep_mask.to(x.scalar_type()).div_(1.0 - dropout) : at::dropout(x, dropout, true);
    return base + at::linear(at::linear(adapter_in, A), B) * scale;
}

at::Tensor gated_down_lora(GateActivation act, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& W, const at::Tensor& A,
                           const at::Tensor& B, double scale, double dropout) {
    at::Tensor h = gated_activation(act, gate, up);
    return lora_linear(at::linear(h, W), h, A, B, scale, dropout, at::Tensor());
}

}  // namespace lathe::kernels::composite
