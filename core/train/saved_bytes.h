// What autograd keeps from a training forward through a model's layers, counted from the device's
// allocator (kernels/allocation_probe.h; exact on the CPU): what `lathe bench train --saved-bytes`
// reports, and what the memory estimate's activation term is checked against (ActivationEstimate.*).
#pragma once

#include <cstdint>

#include "core/models/loader.h"
#include "core/train/batch.h"

namespace lathe {

struct SavedBytes {
    int64_t layers = 0;              // the model's decoder layers when measured
    int64_t all_layers = 0;          // bytes kept with every layer
    int64_t one_layer = 0;           // with the first layer only
    double per_token_per_layer = 0;  // (all_layers - one_layer) / (layers - 1) / tokens
};

// The bytes allocated during one training forward through the layers (embedding, decoder layers, final
// norm) of `batch` and still alive when it returns: what the graph holds for backward, plus the final
// hidden states. Each storage counts once at its size however many saved tensors share it, and nothing
// that existed before (weights, the input ids) counts. The loss is not included: a training step runs the
// output layer and the loss per chunk, with their backward, after the layers' forward.
int64_t forward_saved_bytes(LoadedModel& model, const Batch& batch);

// The saved bytes with every layer and with the first layer only, and their difference per token and
// per layer (the embedding, the final norm and the first layer, whose input needs no gradient, drop out).
// Leaves `model` with its first layer only. Throws lathe::Error for a model of fewer than 2 layers.
SavedBytes measure_saved_bytes(LoadedModel& model, const Batch& batch);

}  // namespace lathe
