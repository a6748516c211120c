// What a training run will need in memory on its device, worked out from the run's configuration and the
// model's config.json before anything is loaded. Torch-free: `lathe train --dry-run` prints it and the
// Studio's Train page computes it in-process as the configuration is edited.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/models/config.h"
#include "core/train/train_config.h"

namespace lathe {

// One data parallel rank's share (docs/distributed.md), from the trained tensors dealt out exactly as the
// run deals them (core/train/zero_partition.h). Bytes on that rank's device.
struct RankMemory {
    double optimizer_states = 0;  // AdamW's two moments of the tensors this rank updates (ZeRO-1 and 2)
    double master = 0;            // the float32 copy of what is trained: every rank holds all of it
    double gradients = 0;         // summed gradients kept for the update: all (ZeRO-1), this rank's share (ZeRO-2)
    double buckets = 0;           // communication buffers beside them while the step's gradients are reduced
    double total = 0;             // weights + optimizer_states + master + gradients + buckets + activations + logits
    int64_t updated_parameters = 0;  // elements of the tensors this rank updates
};

struct MemoryEstimate {
    // Bytes on the device.
    double weights = 0;      // base weights (4-bit where quantized) and one dequantized layer under QLoRA
    double gradients = 0;    // float32 gradients of what is trained
    double optimizer = 0;    // AdamW's moments and the float32 master copy of what is trained
    double activations = 0;  // kept for backward
    double logits = 0;       // one chunk of float32 logits and their gradient
    double total = 0;

    double trainable = 0;            // parameters trained
    double quantized = 0;            // parameters held in 4 bits (QLoRA)
    std::optional<quant::BnbQuantizationConfig> quantization;  // QLoRA: how the base is quantized
    bool quantized_as_stored = false;  // the checkpoint itself is 4-bit (not quantized on load)

    // Data parallel (world_size > 1): each rank's figures, by rank; the fields above stay one process's.
    int world_size = 1;
    int zero_stage = 1;
    std::vector<RankMemory> ranks;
    double largest_bucket = 0;  // bytes of the largest gradient bucket

    // What the most loaded device needs: the largest rank's total, or `total` in one process.
    double device_total() const;
};

// `parameters`: every weight of the model (ModelSummary::parameters). `bf16`: the resolved compute
// precision (ComputePlan::bf16 in a run; the Studio resolves bf16: auto from the chosen GPU).
// `world_size` > 1: also each rank's share (MemoryEstimate::ranks), as config.zero_stage and
// config.ddp_bucket_cap_mb shard and bucket it.
MemoryEstimate estimate_training_memory(const TrainConfig& config, const ModelConfig& model, int64_t parameters, bool bf16, int world_size = 1);

// Reads the model's config.json and safetensors headers (config.base_model) and estimates.
// Throws lathe::Error when the model cannot be read.
MemoryEstimate estimate_training_memory(const TrainConfig& config, bool bf16, int world_size = 1);

// bf16: auto as a run resolves it, from the device the config names: bfloat16 on a CUDA GPU of compute
// capability 8.0 or later, float32 on the CPU; true/false force it. `gpu_compute_major`: the GPU's
// compute capability major (< 0 when unknown: float32 is assumed, the larger estimate).
bool resolve_bf16(const std::string& bf16_setting, bool device_is_cuda, int gpu_compute_major);

// "1.25 GiB".
std::string format_gib(double bytes);

}  // namespace lathe
