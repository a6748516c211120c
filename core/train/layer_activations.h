// What one decoder layer keeps for its backward pass, worked out from the ops' contracts (docs/kernels.md:
// each fused op says what it saves, and what the LibTorch composite it replaces keeps instead) for the
// run a configuration describes: its adapters, dtype, device and dropouts, the fused ops or the
// composites. Torch-free: the memory estimate (memory_estimate.h) multiplies it out; `lathe bench train
// --saved-bytes` measures the same quantity from the CPU allocator (test ActivationEstimate.*).
#pragma once

#include <cstdint>

#include "core/models/config.h"
#include "core/train/train_config.h"

namespace lathe {

// How the run's ops execute, as far as what they keep is concerned.
struct ActivationOps {
    bool bf16 = false;    // bfloat16 compute (2-byte activations), else float32
    bool fused = true;    // the fused ops (kernels::fused_ops_enabled()), else the LibTorch composites
    bool on_cpu = false;  // the CPU: dropout keeps its float noise (composite) or a bit mask (fused) there
    int64_t sequence = 0; // tokens per row (only the CPU's attention-dropout path keeps [T, T] tensors)
};

// Bytes one decoder layer keeps from its forward to its backward (a layer after the first: the first one's
// input needs no gradient, so it keeps a little less).
struct LayerActivations {
    double per_token = 0;  // for each token of the micro-batch
    double per_layer = 0;  // once, whatever the tokens (compute-dtype copies of float32 adapter weights, ...)
};

// Throws lathe::Error where the run itself would refuse the configuration (trained_tensors.h).
LayerActivations layer_activations(const TrainConfig& config, const ModelConfig& model, const ActivationOps& ops);

// What gradient checkpointing keeps of each layer between its forward and its recomputation: the layer's
// input and the random generator's state, to draw the same dropout masks again (activation_checkpoint.cpp).
LayerActivations checkpointed_layer(const ModelConfig& model, const ActivationOps& ops);

// The device a configuration names is the CPU (device: auto counts as a GPU; resolve it before asking).
bool runs_on_cpu(const TrainConfig& config);

}  // namespace lathe
