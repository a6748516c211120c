// How a data parallel training run sets up its gradient reduction: the buckets over the trained tensors
// (or, with float32 master weights, over the bfloat16 model tensors autograd fills), the ZeRO stage the
// config asks for, and which rank updates each tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

#include "core/runs/run_reader.h"
#include "core/train/events.h"
#include "core/train/gradient_sync.h"
#include "core/train/sharded_adamw.h"
#include "core/train/train_config.h"

namespace lathe {

class MasterWeights;

// `params`: what the optimizer updates (the masters when `masters` is given).
std::unique_ptr<GradientSync> make_gradient_sync(DataParallel& group, const TrainConfig& c, const DecoderLM& lm, const std::vector<at::Tensor>& params,
                                                 const MasterWeights* masters);
// ZeRO-2: the rank each tensor's gradient goes to, for ShardedAdamW; ZeRO-1: nullptr (its own balance).
ShardedAdamW::OwnerOf owner_lookup(const GradientSync& sync, const std::vector<at::Tensor>& params);
// Rank 0's step event gets every rank's memory (`rank_mem_gib`: the GPU memory in `step.gpu_mem_gib` on a
// CUDA device, the process's resident memory on the CPU), also as the metrics rank_mem_gib/R. Every rank
// calls it, at the same step.
void gather_rank_memory(DataParallel& group, StepEvent& step, std::vector<MetricPoint>& metrics);
// What forward_backward_on_device runs before the last backward: sync->arm(), or nothing in one process.
std::function<void()> arm_hook(GradientSync* sync);

}  // namespace lathe
