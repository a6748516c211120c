#include "kernels/cuda/rms_norm.cuh"

#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/sum.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <limits>

#include "kernels/cuda/common.cuh"

namespace lathe::kernels::cuda {

namespace {

// y = w * T(x * rstd) (Llama) or T(x * rstd * (1 + w)) (Gemma); the intermediate rounding to T is the
// composite's, so bfloat16 results match it.
template <typename T, bool PlusOne>
__global__ void rms_norm_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ y,
                                        float* __restrict__ rstd, int64_t cols, float eps) {
    __shared__ float shared[kWarp];
    const int64_t row = blockIdx.x;
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    float sum_sq = 0.f;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
        const float v = static_cast<float>(xr[i]);
        sum_sq += v * v;
    }
    sum_sq = block_sum(sum_sq, shared);
    const float r = rsqrtf(sum_sq / static_cast<float>(cols) + eps);
    if (threadIdx.x == 0) rstd[row] = r;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
        const float n = static_cast<float>(xr[i]) * r;
        if constexpr (PlusOne) {
            yr[i] = static_cast<T>(n * (1.f + static_cast<float>(w[i])));
        } else {
            yr[i] = static_cast<T>(static_cast<float>(w[i]) * static_cast<float>(static_cast<T>(n)));
        }
    }
}

// dx = rstd * dn - x * rstd^3 * mean(dn * x), dn = dy * w (Llama) or dy * (1 + w) (Gemma).
template <typename T, bool PlusOne>
__global__ void rms_norm_backward_kernel(const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ w,
                                         const float* __restrict__ rstd, T* __restrict__ dx, int64_t cols) {
    __shared__ float shared[kWarp];
    const int64_t row = blockIdx.x;
    const T* dyr = dy + row * cols;
    const T* xr = x + row * cols;
    T* dxr = dx + row * cols;
    auto dn_at = [&](int64_t i) {
        const float wi = static_cast<float>(w[i]);
        // Llama: the composite multiplies dy by w in T; Gemma works in float32.
        if constexpr (PlusOne) return static_cast<float>(dyr[i]) * (1.f + wi);
        else return static_cast<float>(static_cast<T>(static_cast<float>(dyr[i]) * wi));
    };
    float dot = 0.f;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) dot += dn_at(i) * static_cast<float>(xr[i]);
    dot = block_sum(dot, shared);
    const float r = rstd[row];
    const float coef = r * r * r * dot / static_cast<float>(cols);
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
        dxr[i] = static_cast<T>(r * dn_at(i) - static_cast<float>(xr[i]) * coef);
    }
}

// partial[split, col] = sum over this split's rows of dy * n (n rounded to T first for Llama).
template <typename T, bool PlusOne>
__global__ void rms_norm_weight_grad_kernel(const T* __restrict__ dy, const T* __restrict__ x, const float* __restrict__ rstd,
                                            float* __restrict__ partial, int64_t rows, int64_t cols, int64_t rows_per_split) {
    const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (col >= cols) return;
    const int64_t first = static_cast<int64_t>(blockIdx.y) * rows_per_split;
    const int64_t last = first + rows_per_split < rows ? first + rows_per_split : rows;
    float acc = 0.f;
    for (int64_t row = first; row < last; ++row) {
        float n = static_cast<float>(x[row * cols + col]) * rstd[row];
        if constexpr (!PlusOne) n = static_cast<float>(static_cast<T>(n));
        acc += static_cast<float>(dy[row * cols + col]) * n;
    }
    partial[static_cast<int64_t>(blockIdx.y) * cols + col] = acc;
}

void check_inputs(const at::Tensor& x, const at::Tensor& weight) {
    TORCH_CHECK(x.is_cuda() && weight.is_cuda() && x.device() == weight.device(), "rms_norm (CUDA): x and weight on one CUDA device");
    TORCH_CHECK(x.scalar_type() == weight.scalar_type(), "rms_norm (CUDA): x and weight of one dtype, got ", x.scalar_type(),
                " and ", weight.scalar_type());
    TORCH_CHECK(weight.dim() == 1 && x.size(-1) == weight.size(0), "rms_norm (CUDA): weight [D] for x [..., D]");
    TORCH_CHECK(x.numel() / x.size(-1) <= std::numeric_limits<int32_t>::max(), "rms_norm (CUDA): too many rows for one grid");
}

std::vector<int64_t> rstd_shape(const at::Tensor& x) {
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = 1;
    return shape;
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> rms_norm_forward(const at::Tensor& x_in, const at::Tensor& weight_in, double eps, bool plus_one) {
    check_inputs(x_in, weight_in);
    const c10::cuda::CUDAGuard guard(x_in.device());
    const at::Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
    const int64_t cols = x.size(-1), rows = x.numel() / cols;
    at::Tensor y = at::empty(x.sizes(), x.options());
    at::Tensor rstd = at::empty(rstd_shape(x), x.options().dtype(at::kFloat));
    if (rows == 0) return {y, rstd};
    const int threads = row_block_threads(cols);
    auto stream = at::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "lathe_rms_norm_forward", [&] {
        auto launch = [&](auto kernel) {
            kernel<<<static_cast<unsigned int>(rows), threads, 0, stream>>>(x.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(),
                                                                          y.data_ptr<scalar_t>(), rstd.data_ptr<float>(), cols,
                                                                          static_cast<float>(eps));
            C10_CUDA_KERNEL_LAUNCH_CHECK();
        };
        if (plus_one) launch(rms_norm_forward_kernel<scalar_t, true>);
        else launch(rms_norm_forward_kernel<scalar_t, false>);
    });
    return {y, rstd};
}

std::tuple<at::Tensor, at::Tensor> rms_norm_backward(const at::Tensor& dy_in, const at::Tensor& x_in, const at::Tensor& weight_in,
                                                     const at::Tensor& rstd_in, bool plus_one, bool need_x, bool need_weight) {
    check_inputs(x_in, weight_in);
    TORCH_CHECK(dy_in.sizes() == x_in.sizes() && dy_in.scalar_type() == x_in.scalar_type(), "rms_norm (CUDA): dy like x expected");
    const c10::cuda::CUDAGuard guard(x_in.device());
    const at::Tensor dy = dy_in.contiguous(), x = x_in.contiguous(), weight = weight_in.contiguous(), rstd = rstd_in.contiguous();
    const int64_t cols = x.size(-1), rows = x.numel() / cols;
    at::Tensor dx, dweight;
    auto stream = at::cuda::getCurrentCUDAStream();
    if (need_x) {
        dx = at::empty(x.sizes(), x.options());
        if (rows > 0) {
            const int threads = row_block_threads(cols);
            AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "lathe_rms_norm_backward", [&] {
                auto launch = [&](auto kernel) {
                    kernel<<<static_cast<unsigned int>(rows), threads, 0, stream>>>(
                        dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), rstd.data_ptr<float>(),
                        dx.data_ptr<scalar_t>(), cols);
                    C10_CUDA_KERNEL_LAUNCH_CHECK();
                };
                if (plus_one) launch(rms_norm_backward_kernel<scalar_t, true>);
                else launch(rms_norm_backward_kernel<scalar_t, false>);
            });
        }
    }
    if (need_weight) {
        // Column sums in float32 over `splits` slices of rows, then one ATen sum across the slices.
        const int64_t splits = rows < 256 ? (rows > 0 ? rows : 1) : 256;
        const int64_t rows_per_split = (rows + splits - 1) / splits;
        at::Tensor partial = at::empty({splits, cols}, x.options().dtype(at::kFloat));
        if (rows == 0) partial.zero_();
        else {
            constexpr int threads = 256;
            const dim3 grid(static_cast<unsigned int>((cols + threads - 1) / threads), static_cast<unsigned int>(splits));
            AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "lathe_rms_norm_weight_grad", [&] {
                auto launch = [&](auto kernel) {
                    kernel<<<grid, threads, 0, stream>>>(dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), rstd.data_ptr<float>(),
                                                         partial.data_ptr<float>(), rows, cols, rows_per_split);
                    C10_CUDA_KERNEL_LAUNCH_CHECK();
                };
                if (plus_one) launch(rms_norm_weight_grad_kernel<scalar_t, true>);
                else launch(rms_norm_weight_grad_kernel<scalar_t, false>);
            });
        }
        dweight = partial.sum(0).to(weight.scalar_type());
    }
    return {dx, dweight};
}

}  // namespace lathe::kernels::cuda
