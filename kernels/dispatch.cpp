#include "kernels/dispatch.h"

#include "kernels/composite.h"
#include "kernels/rms_norm.h"
#include "kernels/rotary.h"

namespace lathe::kernels {

bool fused_ops_enabled() {
#ifdef LATHE_FUSED_OPS
    return true;
#else
    return false;
#endif
}

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

}  // namespace lathe::kernels
