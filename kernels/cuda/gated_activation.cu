#include "kernels/cuda/gated_activation.cuh"

#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>

#include "kernels/cuda/common.cuh"

namespace lathe::kernels::cuda {

namespace {

// The formulas of ATen's CUDA silu / gelu kernels and their backward, in float32.
constexpr float kSqrt1_2 = 0.70710678118654752440f;
constexpr float kBeta = 0.79788456080286535588f;  // sqrt(2 / pi)
constexpr float kKappa = 0.044715f;
constexpr float kAlpha = 0.39894228040143267794f;  // 1 / sqrt(2 pi)

template <GateActivation Act>
__device__ __forceinline__ float activate(float x) {
    if constexpr (Act == GateActivation::Silu) return x / (1.f + expf(-x));
    else if constexpr (Act == GateActivation::Gelu) return x * 0.5f * (1.f + erff(x * kSqrt1_2));
    else return 0.5f * x * (1.f + tanhf(kBeta * (x + kKappa * x * x * x)));
}

template <GateActivation Act>
__device__ __forceinline__ float activate_grad(float x) {
    if constexpr (Act == GateActivation::Silu) {
        const float s = 1.f / (1.f + expf(-x));
        return s * (1.f + x * (1.f - s));
    } else if constexpr (Act == GateActivation::Gelu) {
        const float cdf = 0.5f * (1.f + erff(x * kSqrt1_2));
        const float pdf = expf(-0.5f * x * x) * kAlpha;
        return cdf + x * pdf;
    } else {
        const float x_sq = x * x;
        const float t = tanhf(kBeta * (x + kKappa * x_sq * x));
        const float left = 0.5f * x, right = 1.f + t;
        return 0.5f * right + left * (1.f - t * t) * kBeta * (1.f + 3.f * kKappa * x_sq);
    }
}

// A [rows, cols] matrix whose rows start `row_stride` elements apart and whose columns are contiguous.
struct Rows {
    int64_t rows, cols, row_stride;
};

// Whether every dimension but the last collapses into one row index, with unit column stride.
bool has_uniform_rows(const at::Tensor& t) {
    if (t.dim() < 2) return t.dim() == 1 && t.stride(0) == 1;
    if (t.stride(-1) != 1) return false;
    for (int64_t i = 0; i + 2 < t.dim(); ++i) {
        if (t.size(i) != 1 && t.stride(i) != t.stride(i + 1) * t.size(i + 1)) return false;
    }
    return true;
}

at::Tensor with_uniform_rows(const at::Tensor& t) { return has_uniform_rows(t) ? t : t.contiguous(); }

Rows rows_of(const at::Tensor& t) {
    const int64_t cols = t.size(-1);
    return {t.numel() / cols, cols, t.dim() >= 2 ? t.stride(-2) : cols};
}

// Both kernels walk rows in y and columns in x, each with a grid stride, so no element's index is
// divided into row and column: a 64-bit division per element made the first version of these kernels
// slower than the composite's memory-bound elementwise ops (docs/performance.md, 2026-12-04).
template <typename T, GateActivation Act>
__global__ void gated_forward_kernel(const T* __restrict__ gate, Rows g, const T* __restrict__ up, Rows u, T* __restrict__ y) {
    for (int64_t row = blockIdx.y; row < g.rows; row += gridDim.y) {
        for (int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; col < g.cols; col += static_cast<int64_t>(gridDim.x) * blockDim.x) {
            const float a = static_cast<float>(static_cast<T>(activate<Act>(static_cast<float>(gate[row * g.row_stride + col]))));
            y[row * g.cols + col] = static_cast<T>(a * static_cast<float>(up[row * u.row_stride + col]));
        }
    }
}

// d up = T(dy * T(act(gate))); d gate = T(T(dy * up) * act'(gate)), the composite's roundings.
template <typename T, GateActivation Act>
__global__ void gated_backward_kernel(const T* __restrict__ dy, const T* __restrict__ gate, Rows g, const T* __restrict__ up, Rows u,
                                      T* __restrict__ dgate, T* __restrict__ dup) {
    for (int64_t row = blockIdx.y; row < g.rows; row += gridDim.y) {
        for (int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; col < g.cols; col += static_cast<int64_t>(gridDim.x) * blockDim.x) {
            const int64_t i = row * g.cols + col;
            const float x = static_cast<float>(gate[row * g.row_stride + col]);
            const float d = static_cast<float>(dy[i]);
            if (dup != nullptr) dup[i] = static_cast<T>(d * static_cast<float>(static_cast<T>(activate<Act>(x))));
            if (dgate != nullptr) {
                const float d_act = static_cast<float>(static_cast<T>(d * static_cast<float>(up[row * u.row_stride + col])));
                dgate[i] = static_cast<T>(d_act * activate_grad<Act>(x));
            }
        }
    }
}

void check_inputs(const at::Tensor& gate, const at::Tensor& up) {
    TORCH_CHECK(gate.is_cuda() && up.is_cuda() && gate.device() == up.device(), "gated_activation (CUDA): gate and up on one CUDA device");
    TORCH_CHECK(gate.sizes() == up.sizes() && gate.scalar_type() == up.scalar_type(),
                "gated_activation (CUDA): gate and up of one shape and dtype");
    TORCH_CHECK(gate.dim() >= 1, "gated_activation (CUDA): gate [..., I] expected");
}

constexpr int kThreads = 256;

// Columns across x (enough blocks to cover a row once), rows across y (up to the grid's limit; the
// kernels' row stride covers the rest).
dim3 row_column_grid(Rows r) {
    const int64_t x = (r.cols + kThreads - 1) / kThreads, y = r.rows;
    return dim3(static_cast<unsigned int>(std::clamp<int64_t>(x, 1, 65535)), static_cast<unsigned int>(std::clamp<int64_t>(y, 1, 65535)));
}

template <typename T, GateActivation Act>
void launch_forward(const at::Tensor& gate, Rows g, const at::Tensor& up, Rows u, at::Tensor& y) {
    gated_forward_kernel<T, Act><<<row_column_grid(g), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(gate.data_ptr<T>(), g, up.data_ptr<T>(), u,
                                                                                                        y.data_ptr<T>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T, GateActivation Act>
void launch_backward(const at::Tensor& dy, const at::Tensor& gate, Rows g, const at::Tensor& up, Rows u, at::Tensor& dgate, at::Tensor& dup) {
    gated_backward_kernel<T, Act><<<row_column_grid(g), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        dy.data_ptr<T>(), gate.data_ptr<T>(), g, up.data_ptr<T>(), u, dgate.defined() ? dgate.data_ptr<T>() : nullptr,
        dup.defined() ? dup.data_ptr<T>() : nullptr);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

at::Tensor gated_activation_forward(GateActivation act, const at::Tensor& gate_in, const at::Tensor& up_in) {
    check_inputs(gate_in, up_in);
    const c10::cuda::CUDAGuard guard(gate_in.device());
    const at::Tensor gate = with_uniform_rows(gate_in), up = with_uniform_rows(up_in);
    at::Tensor y = at::empty(gate.sizes(), gate.options().memory_format(at::MemoryFormat::Contiguous));
    const int64_t n = y.numel();
    if (n == 0) return y;
    const Rows g = rows_of(gate), u = rows_of(up);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gate.scalar_type(), "lathe_gated_activation_forward", [&] {
        switch (act) {
            case GateActivation::Silu: launch_forward<scalar_t, GateActivation::Silu>(gate, g, up, u, y); break;
            case GateActivation::Gelu: launch_forward<scalar_t, GateActivation::Gelu>(gate, g, up, u, y); break;
            case GateActivation::GeluTanh: launch_forward<scalar_t, GateActivation::GeluTanh>(gate, g, up, u, y); break;
        }
    });
    return y;
}

std::tuple<at::Tensor, at::Tensor> gated_activation_backward(GateActivation act, const at::Tensor& dy_in, const at::Tensor& gate_in,
                                                             const at::Tensor& up_in, bool need_gate, bool need_up) {
    check_inputs(gate_in, up_in);
    TORCH_CHECK(dy_in.sizes() == gate_in.sizes() && dy_in.scalar_type() == gate_in.scalar_type(),
                "gated_activation (CUDA): dy like gate expected");
    const c10::cuda::CUDAGuard guard(gate_in.device());
    const at::Tensor gate = with_uniform_rows(gate_in), up = with_uniform_rows(up_in), dy = dy_in.contiguous();
    const auto options = gate.options().memory_format(at::MemoryFormat::Contiguous);
    at::Tensor dgate = need_gate ? at::empty(gate.sizes(), options) : at::Tensor();
    at::Tensor dup = need_up ? at::empty(gate.sizes(), options) : at::Tensor();
    const int64_t n = gate.numel();
    if (n == 0 || (!need_gate && !need_up)) return {dgate, dup};
    const Rows g = rows_of(gate), u = rows_of(up);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gate.scalar_type(), "lathe_gated_activation_backward", [&] {
        switch (act) {
            case GateActivation::Silu: launch_backward<scalar_t, GateActivation::Silu>(dy, gate, g, up, u, dgate, dup); break;
            case GateActivation::Gelu: launch_backward<scalar_t, GateActivation::Gelu>(dy, gate, g, up, u, dgate, dup); break;
            case GateActivation::GeluTanh: launch_backward<scalar_t, GateActivation::GeluTanh>(dy, gate, g, up, u, dgate, dup); break;
        }
    });
    return {dgate, dup};
}

}  // namespace lathe::kernels::cuda
