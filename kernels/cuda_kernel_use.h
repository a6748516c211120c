// Whether an op's CUDA kernel can take these tensors: it was compiled in (LATHE_KERNELS_CUDA), and the
// first tensor and every other one live on a CUDA device in the first one's dtype. Each op adds its own
// conditions (an empty input, say) beside this.
#pragma once

#include <ATen/core/Tensor.h>

#include <initializer_list>

namespace lathe::kernels {

inline bool cuda_kernel_takes(const at::Tensor& first, std::initializer_list<at::Tensor> others) {
#ifdef LATHE_KERNELS_CUDA
    if (!first.is_cuda()) return false;
    for (const at::Tensor& t : others)
        if (!t.is_cuda() || t.scalar_type() != first.scalar_type()) return false;
    return true;
#else
    (void)first;
    (void)others;
    return false;
#endif
}

}  // namespace lathe::kernels
