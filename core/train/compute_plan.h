// Where a run computes and in which precision: `device: auto` and `bf16: auto` resolved against this
// machine. Torch-free, so the dry run can print it.
#pragma once

#include <string>

#include "core/train/train_config.h"

namespace lathe {

struct ComputePlan {
    std::string device;         // cpu, cuda, cuda:N
    bool bf16 = false;          // bfloat16 compute; trained weights stay float32
    bool tf32 = false;          // float32 matmuls may use TF32 tensor cores (CUDA)
    bool no_gpu_found = false;  // device: auto found no GPU and chose the CPU
};

// device auto: the first CUDA GPU, else the CPU. bf16 auto: bfloat16 on a CUDA GPU that computes it
// natively (compute capability 8.0 and up), float32 elsewhere; true/false force it.
ComputePlan plan_compute(const TrainConfig& config);

}  // namespace lathe
