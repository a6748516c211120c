// One optimizer step's forward and backward passes over its micro-batches.
#pragma once

#include <vector>

#include "core/models/loader.h"
#include "core/train/batch.h"

namespace lathe {

// Runs forward and backward over every micro-batch, accumulating gradients. The loss is the sum of
// token cross-entropies over all micro-batches divided by their total label tokens — the mean over
// every trained token of the step, not a mean of per-batch means. Returns that loss. The output layer
// and the loss run in chunks of labeled positions, so [batch, sequence, vocab] float32 logits are never
// materialised.
double forward_backward(LoadedModel& model, const std::vector<Batch>& micro_batches, int64_t loss_chunk_rows = 1024);

}  // namespace lathe
