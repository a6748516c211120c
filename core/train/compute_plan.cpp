#include "core/train/compute_plan.h"

#include <ATen/Context.h>
#if defined(LATHE_TORCH_HAS_CUDA) && __has_include(<c10/cuda/CUDAFunctions.h>)
#include <c10/cuda/CUDAFunctions.h>
#define LATHE_PLAN_CUDA 1
#endif

#include "core/models/loader.h"
#include "core/train/memory_estimate.h"

namespace lathe {

namespace {

// The GPU's compute capability major; -1 when it cannot be asked.
int gpu_compute_major(const c10::Device& device) {
#ifdef LATHE_PLAN_CUDA
    if (!at::hasCUDA()) return -1;
    int major = 0;
    const int index = device.has_index() ? device.index() : c10::cuda::current_device();
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, index) != cudaSuccess) return -1;
    return major;
#else
    (void)device;
    return -1;
#endif
}

}  // namespace

ComputePlan plan_compute(const TrainConfig& c) {
    ComputePlan plan;
    if (c.device == "auto") {
        plan.device = at::hasCUDA() ? "cuda" : "cpu";
        plan.no_gpu_found = !at::hasCUDA();
    } else {
        plan.device = c.device;
    }
    const c10::Device device = parse_device(plan.device);
    plan.bf16 = resolve_bf16(c.bf16, device.is_cuda(), device.is_cuda() ? gpu_compute_major(device) : -1);
    plan.tf32 = device.is_cuda();
    return plan;
}

}  // namespace lathe
