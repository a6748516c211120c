#include "core/train/compute_plan.h"

#include <ATen/Context.h>
#if defined(LATHE_TORCH_HAS_CUDA) && __has_include(<c10/cuda/CUDAFunctions.h>)
#include <c10/cuda/CUDAFunctions.h>
#define LATHE_PLAN_CUDA 1
#endif

#include "core/models/loader.h"

namespace lathe {

namespace {

// Ampere (8.0) and later have bfloat16 tensor cores; older GPUs emulate it slowly.
bool gpu_computes_bf16(const c10::Device& device) {
#ifdef LATHE_PLAN_CUDA
    if (!at::hasCUDA()) return false;
    int major = 0;
    const int index = device.has_index() ? device.index() : c10::cuda::current_device();
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, index) != cudaSuccess) return false;
    return major >= 8;
#else
    (void)device;
    return false;
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
    if (c.bf16 == "auto") plan.bf16 = device.is_cuda() && gpu_computes_bf16(device);
    else plan.bf16 = c.bf16 == "true";
    plan.tf32 = device.is_cuda();
    return plan;
}

}  // namespace lathe
