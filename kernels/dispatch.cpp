#include "kernels/dispatch.h"

#include "kernels/composite.h"
#include "kernels/gated_down_lora.h"
#include "kernels/lora_linear.h"
#include "kernels/rms_norm.h"
#include "kernels/rotary.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lathe::kernels {

namespace {
// -1: LATHE_FUSED_OPS not read yet; otherwise whether the fused ops are on.
std::atomic<int> g_fused_ops{-1};

bool fused_ops_built_default() {
#ifdef LATHE_FUSED_OPS
    return true;
#else
    return false;
#endif
}
}  // namespace

bool fused_ops_setting(const char* env_value) {
    if (env_value == nullptr || *env_value == '\0') return fused_ops_built_default();
    const std::string v(env_value);
    if (v == "0") return false;
    if (v == "1") return true;
    throw std::invalid_argument("LATHE_FUSED_OPS must be 0 (the LibTorch composites) or 1 (the fused ops), got '" + v + "'");
}

bool fused_ops_enabled() {
    int on = g_fused_ops.load(std::memory_order_relaxed);
    if (on < 0) {
        on = fused_ops_setting(std::getenv("LATHE_FUSED_OPS")) ? 1 : 0;
        g_fused_ops.store(on, std::memory_order_relaxed);
    }
    return on == 1;
}

// Also what `lathe bench train --alternate-fused` switches with between steps.
void reread_fused_ops_setting() { g_fused_ops.store(-1, std::memory_order_relaxed); }

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
