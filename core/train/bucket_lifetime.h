// How long each gradient bucket's memory lives during the step's reduction, as plain numbers: the rule
// GradientSync follows (how many buckets may be in flight at once) and the peak it leads to on a rank.
// Torch-free, so that the memory estimate works out the same peak from the tensors' sizes alone, as it
// divides them with zero_partition.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/train/zero_partition.h"

namespace lathe {

// ZeRO-2: before a bucket is sent, the collective of the bucket this many places earlier must have
// completed (GradientSync waits for it there), and its send buffer, the backend's copy of what it
// received and a non-owner's reduced buffer are freed. Two: one bucket's collective runs while the next
// one's gradients are computed and copied, so communication still overlaps backward. Buckets whose
// collective has completed earlier are freed earlier, as soon as a later bucket goes out.
inline constexpr size_t kShardedBucketsInFlight = 2;

// What one bucket costs one rank, in bytes.
struct BucketBytes {
    int64_t gradients = 0;  // the members' local gradients, until they are copied into the buffer
    int64_t largest = 0;    // the largest member's: a fresh gradient autograd adds into an accumulated one
    int64_t buffer = 0;     // the flat buffer sent
    int64_t kept = 0;       // what stays for the update: the received segment, or the reduced buffer (its root)
    int64_t in_flight = 0;  // what is freed once its collective has completed (send buffer, backend's copy)
};

// `sync`: the tensors the plan was made from. `reduce_scatter`: the plan was laid out for it.
BucketBytes bucket_bytes(const GradientBucket& bucket, const std::vector<SyncTensor>& sync, int rank, int world_size, bool shard_gradients,
                         bool reduce_scatter);

// The most bytes of gradients and bucket buffers a rank holds at once while the step's last backward
// sends its buckets in order, with at most `in_flight` collectives not yet completed (0: none is waited
// for before finish()). With kShardedBucketsInFlight that is the most GradientSync can hold (every
// collective completing only when the bound waits for it); with 1, the least (every one completing before
// the next bucket is sent). `accumulated`: earlier micro-batches of the step left every local gradient
// allocated before the last backward starts (each new one is added into it); otherwise each bucket's
// gradients appear, in backward's order, just before it is sent.
int64_t reduction_peak(const BucketPlan& plan, const std::vector<SyncTensor>& sync, int rank, int world_size, bool shard_gradients,
                       bool reduce_scatter, size_t in_flight, bool accumulated);

}  // namespace lathe
