// Data parallel gradient reduction that overlaps the backward pass, as PyTorch's DDP Reducer does with
// c10d collectives: the trained tensors are cut into buckets, and each bucket's collective starts as soon
// as autograd has accumulated the last gradient of every tensor in it, while backward goes on through
// the layers below. Only the step's last backward pass communicates (gradient accumulation stays local).
//
// ZeRO-1: each bucket is all-reduced, every rank keeps the whole summed gradient. ZeRO-2: each bucket is
// reduce-scattered (or, owned whole by one rank, reduced to it), every rank keeps only the summed
// gradients of the tensors it updates (owners()), and drops the others' as soon as their bucket is sent.
// A ZeRO-2 bucket's send buffer (with the backend's copy of the received segment, and a non-root's
// reduced buffer) is freed once its collective has completed: when a later bucket is sent, and at most
// kShardedBucketsInFlight buckets are in flight at once (bucket_lifetime.h, which the memory estimate
// follows); only the kept segments and the buckets reduced to this rank outlive their collective.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "core/train/data_parallel.h"

namespace lathe {

class DecoderLM;

struct GradientSyncOptions {
    int64_t bucket_bytes = 25LL * 1024 * 1024;  // DDP's default bucket_cap_mb
    bool shard_gradients = false;               // ZeRO-2
    // ZeRO-2 with reduce_scatter when the backend has it; false: all-reduce and keep the owned slices, as
    // on a Gloo without reduce_scatter (the same results, more traffic).
    bool reduce_scatter = true;
};

class GradientSync {
public:
    // `params`: the tensors the optimizer updates, in registration order. `accumulated`: the tensors
    // autograd accumulates gradients into, one per param: the same tensors, or the bfloat16 model weights
    // whose float32 masters `params` are (their gradient is converted when its bucket is sent).
    // `output_layer`: tensors among `accumulated` that only the output layer uses (an untied lm_head): their
    // gradients are complete before the backward through the layers starts. Every rank passes the same.
    GradientSync(DataParallel& group, std::vector<at::Tensor> params, std::vector<at::Tensor> accumulated,
                 const std::vector<at::Tensor>& output_layer, GradientSyncOptions options);
    ~GradientSync();  // removes the hooks
    GradientSync(const GradientSync&) = delete;
    GradientSync& operator=(const GradientSync&) = delete;

    // Called right before the step's last backward pass through the layers: from here on, a gradient
    // autograd accumulates is final for this step, and its bucket goes out once all its tensors are.
    void arm();
    // After the step's backward passes: sends what is left, waits for every bucket, and leaves the summed
    // gradients in params' grad (ZeRO-2: only for the tensors this rank owns; the others' are undefined).
    // The loss (float64 on the device, this rank's share: a scalar, or a vector with the step's other
    // per-rank sums after it) comes back summed over the ranks, in its shape. A gradient
    // undefined on this rank counts as zeros; one undefined on every rank stays undefined.
    at::Tensor finish(const at::Tensor& loss);

    // ZeRO-2: the rank that updates each param (balanced within each bucket, so that reduce-scatter pads
    // little); ZeRO-1: empty.
    const std::vector<int>& owners() const;
    // Whether buckets are reduce-scattered (ZeRO-2 with a backend that has reduce_scatter) or all-reduced
    // (ZeRO-1, or ZeRO-2 on a Gloo without it: each rank then keeps its share of the all-reduced bucket).
    bool reduce_scatters() const;
    size_t bucket_count() const;
    // Buckets sent so far this step (before finish(): those that went out while backward ran).
    size_t buckets_sent() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// The output layer's own tensors (lm_head's weight, bias and adapter), less one tied to the embedding.
std::vector<at::Tensor> output_layer_tensors(const DecoderLM& lm);

}  // namespace lathe
