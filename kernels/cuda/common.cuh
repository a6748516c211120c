// Helpers shared by the kernels: float32 block reduction and launch geometry.
#pragma once

#include <cstdint>

namespace lathe::kernels::cuda {

constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = kWarp / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// Sum of v over the block, returned to every thread. blockDim.x must be a multiple of 32 (at most 1024);
// `shared` holds 32 floats. Safe to call repeatedly with the same buffer.
__device__ __forceinline__ float block_sum(float v, float* shared) {
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
    v = warp_sum(v);
    __syncthreads();  // a previous call may still be reading `shared`
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    const int warps = static_cast<int>(blockDim.x) / kWarp;
    v = lane < warps ? shared[lane] : 0.f;
    return warp_sum(v);  // every warp reduces the same partial sums, so every thread gets the total
}

// Threads per block for one row of `cols` elements: a multiple of 32, 32..1024.
inline int row_block_threads(int64_t cols) {
    int64_t threads = ((cols + kWarp - 1) / kWarp) * kWarp;
    if (threads > 1024) threads = 1024;
    if (threads < kWarp) threads = kWarp;
    return static_cast<int>(threads);
}

// Blocks for a grid-stride loop over n elements with `threads` per block.
inline unsigned int grid_blocks(int64_t n, int threads) {
    int64_t blocks = (n + threads - 1) / threads;
    if (blocks > 65535LL * 32) blocks = 65535LL * 32;  // grid-stride loops cover the rest
    if (blocks < 1) blocks = 1;
    return static_cast<unsigned int>(blocks);
}

}  // namespace lathe::kernels::cuda
