// How data parallel training divides the trained tensors among the ranks, as plain numbers: the ZeRO-1
// dealing of AdamW's state (ShardedAdamW) and the gradient buckets with their ZeRO-2 owners
// (GradientSync). Torch-free, so that the memory estimate (`lathe train --dry-run --world-size N`, the
// Studio's Train page) divides exactly as a run does, from the tensors' sizes alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lathe {

// ZeRO-1: each tensor, largest first (ties in the given order), to the rank holding the fewest elements
// so far (the lowest rank among equals). `numels` in the optimizer's order (its groups one after the
// other); returns the owning rank of each.
std::vector<int> deal_largest_first(const std::vector<int64_t>& numels, int world_size);

// One tensor the gradient reduction carries, in the optimizer's registration order.
struct SyncTensor {
    int64_t numel = 0;
    int64_t element_size = 4;  // bytes
    int kind = 0;              // tensors of different kinds (dtype, device) never share a bucket
    bool output_layer = false; // its gradient is final before the backward through the layers
};

struct GradientBucket {
    std::vector<size_t> members;   // indices into the tensors, in their order in the buffer
    std::vector<int64_t> offsets;  // all-reduce: offset in the flat buffer; reduce-scatter: in the owner's segment
    int64_t numel = 0;             // all-reduce (or reduce to a root): the buffer's length
    int64_t segment = 0;           // reduce-scatter: each rank's share, padded to the largest
    int root = -1;                 // ZeRO-2, a bucket one rank owns whole: reduced to it
    int64_t element_size = 4;
};

struct BucketPlan {
    std::vector<GradientBucket> buckets;  // in the order they are sent
    std::vector<size_t> bucket_of;        // by tensor
    std::vector<size_t> output_layer;     // tensors final before the backward through the layers
    std::vector<int> owner;               // ZeRO-2: the rank that keeps (and updates) each tensor; else empty
};

// Buckets of up to `bucket_bytes`, filled in backward's order (the output layer's tensors, then the rest
// from the last registered to the first); with `shard_gradients` (ZeRO-2) each bucket's tensors dealt out
// largest first to the rank with the fewest of the bucket's elements (then the fewest overall), and with
// `reduce_scatter` each bucket laid out for a reduce-scatter (or, owned whole by one rank, a reduce).
BucketPlan plan_gradient_buckets(const std::vector<SyncTensor>& tensors, int64_t bucket_bytes, int world_size, bool shard_gradients,
                                 bool reduce_scatter);

}  // namespace lathe
