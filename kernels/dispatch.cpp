#include "kernels/dispatch.h"

#include "kernels/composite.h"
#include "kernels/gated_down_lora.h"
#include "kernels/lora_linear.h"
#include "kernels/rms_norm.h"
#include "kernels/rotary.h"

namespace lathe::kernels {

bool cuda_kernels_built() {
#ifdef LATHE_KERNELS_CUDA
    return true;
#else
    return false;
#endif
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
    if (fused_ops_enabled()) return fused_rms_norm(x, weight, eps, plus_one);
    return composite::rms_norm(x, weight, eps, plus_one);
}

at::Tensor gated_activation(GateActivation act, const at::Tensor& gate, const at::Tensor& up) {
    if (fused_ops_enabled()) return fused_gated_activation(act, gate, up);
    return composite::gated_activation(act, gate, up);
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    if (fused_ops_enabled()) return fused_apply_rotary_(x, cos, sin);
    return composite::apply_rotary(x, cos, sin);
}

at::Tensor linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& targets,
                                const LinearCrossEntropyOptions& options) {
    if (fused_ops_enabled()) return fused_linear_cross_entropy(hidden, weight, bias, targets, options);
    return composite::linear_cross_entropy(hidden, weight, bias, targets, options);
}

at::Tensor lora_linear(const at::Tensor& base, const at::Tensor& x, const at::Tensor& A, const at::Tensor& B, double scale, double dropout) {
    if (fused_ops_enabled()) return fused_lora_linear(base, x, A, B, scale, dropout);
    return composite::lora_linear(base, x, A, B, scale, dropout);
}

at::Tensor gated_down_lora(GateActivation act, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& W, const at::Tensor& A,
                           const at::Tensor& B, double scale, double dropout) {
    if (fused_ops_enabled()) return fused_gated_down_lora(act, gate, up, W, A, B, scale, dropout);
    return composite::gated_down_lora(act, gate, up, W, A, B, scale, dropout);
}

}  // namespace lathe::kernels
