#include "kernels/cuda/rotary.cuh"

#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/cuda/common.cuh"

namespace lathe::kernels::cuda {

namespace {

struct Geometry {
    int64_t B, H, T, half;
    int64_t xs_b, xs_h, xs_t, xs_d;  // x's strides
    int64_t cs_b, cs_t;              // cos/sin strides (made contiguous in the last dimension); cs_b 0 to broadcast
};

template <typename T>
__device__ __forceinline__ float round_to(float v) {
    return static_cast<float>(static_cast<T>(v));
}

template <typename T, bool Inverse>
__global__ void rotary_kernel(T* __restrict__ x, const T* __restrict__ cos, const T* __restrict__ sin, Geometry g) {
    const int64_t n = g.B * g.H * g.T * g.half;
    for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < n;
         idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        int64_t rest = idx;
        const int64_t i = rest % g.half;
        rest /= g.half;
        const int64_t t = rest % g.T;
        rest /= g.T;
        const int64_t h = rest % g.H;
        const int64_t b = rest / g.H;
        T* row = x + b * g.xs_b + h * g.xs_h + t * g.xs_t;
        const int64_t cs = b * g.cs_b + t * g.cs_t;
        const float a1 = static_cast<float>(row[i * g.xs_d]), a2 = static_cast<float>(row[(i + g.half) * g.xs_d]);
        const float c1 = static_cast<float>(cos[cs + i]), c2 = static_cast<float>(cos[cs + i + g.half]);
        const float s1 = static_cast<float>(sin[cs + i]), s2 = static_cast<float>(sin[cs + i + g.half]);
        // __fmul_rn / __fadd_rn: no fused multiply-add, each product rounded on its own as the composite's.
        float first, second;
        if constexpr (Inverse) {
            first = __fadd_rn(round_to<T>(__fmul_rn(a1, c1)), round_to<T>(__fmul_rn(a2, s2)));
            second = __fadd_rn(round_to<T>(__fmul_rn(a2, c2)), -round_to<T>(__fmul_rn(a1, s1)));
        } else {
            first = __fadd_rn(round_to<T>(__fmul_rn(a1, c1)), -round_to<T>(__fmul_rn(a2, s1)));
            second = __fadd_rn(round_to<T>(__fmul_rn(a2, c2)), round_to<T>(__fmul_rn(a1, s2)));
        }
        row[i * g.xs_d] = static_cast<T>(first);
        row[(i + g.half) * g.xs_d] = static_cast<T>(second);
    }
}

}  // namespace

void rotary_(const at::Tensor& x, const at::Tensor& cos_in, const at::Tensor& sin_in, bool inverse) {
    TORCH_CHECK(x.is_cuda() && cos_in.device() == x.device() && sin_in.device() == x.device(), "rotary (CUDA): x, cos, sin on one CUDA device");
    TORCH_CHECK(x.dim() == 4 && cos_in.dim() == 3 && sin_in.sizes() == cos_in.sizes(), "rotary (CUDA): x [B, H, T, D], cos/sin [B, T, R]");
    TORCH_CHECK(cos_in.scalar_type() == x.scalar_type() && sin_in.scalar_type() == x.scalar_type(), "rotary (CUDA): cos/sin in x's dtype");
    const int64_t rotary_dim = cos_in.size(2);
    TORCH_CHECK(rotary_dim % 2 == 0 && rotary_dim <= x.size(3) && cos_in.size(1) == x.size(2) &&
                    (cos_in.size(0) == x.size(0) || cos_in.size(0) == 1),
                "rotary (CUDA): cos/sin ", cos_in.sizes(), " do not fit x ", x.sizes());
    const c10::cuda::CUDAGuard guard(x.device());
    // cos/sin are small ([B, T, R]): contiguous copies cost nothing next to x.
    const at::Tensor cos = cos_in.contiguous(), sin = sin_in.contiguous();
    const Geometry g{x.size(0), x.size(1), x.size(2), rotary_dim / 2,
                     x.stride(0), x.stride(1), x.stride(2), x.stride(3),
                     cos.size(0) == 1 ? 0 : cos.stride(0), cos.stride(1)};
    const int64_t n = g.B * g.H * g.T * g.half;
    if (n == 0) return;
    constexpr int threads = 256;
    auto stream = at::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "lathe_rotary", [&] {
        auto launch = [&](auto kernel) {
            kernel<<<grid_blocks(n, threads), threads, 0, stream>>>(x.data_ptr<scalar_t>(), cos.data_ptr<scalar_t>(),
                                                                    sin.data_ptr<scalar_t>(), g);
            C10_CUDA_KERNEL_LAUNCH_CHECK();
        };
        if (inverse) launch(rotary_kernel<scalar_t, true>);
        else launch(rotary_kernel<scalar_t, false>);
    });
}

}  // namespace lathe::kernels::cuda
