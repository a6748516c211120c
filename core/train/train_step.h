// One optimizer step's forward and backward passes over its micro-batches, and the evaluation loss.
// Both run the output layer and the loss in chunks of labeled positions, so [batch, sequence, vocab]
// float32 logits are never materialised, and neither reads a value back from the device until its
// caller asks.
#pragma once

#include <functional>
#include <vector>

#include "core/models/loader.h"
#include "core/train/batch.h"

namespace lathe {

// Runs forward and backward over every micro-batch, accumulating gradients. The loss is the sum of
// token cross-entropies over all micro-batches divided by their total label tokens — the mean over
// every trained token of the step, not a mean of per-batch means. Returns that loss as a float64
// scalar on the model's device, without waiting for it. Data parallel: `global_label_tokens` > 0 divides
// by the label tokens of every rank's micro-batches instead, so the ranks' summed gradients are those of
// one process training them all; a rank with no micro-batch left returns 0. `before_last_backward`, when
// set, runs right before the backward pass through the layers of the last micro-batch (after its output
// layer's): data parallel runs start reducing gradients from there (GradientSync::arm).
at::Tensor forward_backward_on_device(LoadedModel& model, const std::vector<Batch>& micro_batches, int64_t loss_chunk_rows = 1024,
                                      int64_t global_label_tokens = 0, const std::function<void()>& before_last_backward = {});
// The same, with the loss read back.
double forward_backward(LoadedModel& model, const std::vector<Batch>& micro_batches, int64_t loss_chunk_rows = 1024);

// Mean token cross-entropy over `rows` (batches of `batch_size`, padded with `pad_id`), without
// gradients; NaN when no row has a label. One read from the device, at the end.
double evaluation_loss(LoadedModel& model, const std::vector<Example>& rows, int64_t batch_size, int64_t pad_id,
                       int64_t loss_chunk_rows = 1024);

// The batch's model inputs on `device`. On a CUDA device they are copied from pinned host memory
// without blocking; an all-ones attention mask is dropped (it says nothing, and checking it on the
// device would wait for the GPU). Labels stay on the host, where the loss finds its positions.
Batch batch_to_device(const Batch& batch, c10::Device device);

}  // namespace lathe
