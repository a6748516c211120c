#include "core/train/bucket_lifetime.h"

#include <algorithm>
#include <deque>

namespace lathe {

BucketBytes bucket_bytes(const GradientBucket& b, const std::vector<SyncTensor>& sync, int rank, int world_size, bool shard_gradients,
                         bool reduce_scatter) {
    BucketBytes bytes;
    for (size_t m : b.members) {
        bytes.gradients += sync[m].numel * sync[m].element_size;
        bytes.largest = std::max(bytes.largest, sync[m].numel * sync[m].element_size);
    }
    if (shard_gradients && reduce_scatter && b.root < 0) {
        // The buffer holds every rank's padded segment; the received segment is kept, and the backend
        // (Gloo's reduce_scatter) holds a copy of it of its own until its work is let go.
        bytes.buffer = b.segment * world_size * b.element_size;
        bytes.kept = b.segment * b.element_size;
        bytes.in_flight = bytes.buffer + bytes.kept;
    } else {
        bytes.buffer = b.numel * b.element_size;
        const bool keeps = !shard_gradients || !reduce_scatter || b.root == rank;  // the reduced buffer is the gradient
        bytes.kept = keeps ? bytes.buffer : 0;
        bytes.in_flight = keeps ? 0 : bytes.buffer;
    }
    return bytes;
}

int64_t reduction_peak(const BucketPlan& plan, const std::vector<SyncTensor>& sync, int rank, int world_size, bool shard_gradients,
                       bool reduce_scatter, size_t in_flight, bool accumulated) {
    std::vector<BucketBytes> buckets;
    for (const GradientBucket& b : plan.buckets) buckets.push_back(bucket_bytes(b, sync, rank, world_size, shard_gradients, reduce_scatter));
    int64_t local = 0;  // local gradients not sent yet
    if (accumulated)
        for (const BucketBytes& b : buckets) local += b.gradients;
    int64_t kept = 0, pending = 0, peak = 0;
    std::deque<int64_t> flying;  // in_flight bytes of the buckets not waited for yet, oldest first
    for (const BucketBytes& b : buckets) {
        // The bucket's gradients are made while the earlier buckets are still in flight (a fresh one
        // beside the accumulated ones, or each one new).
        if (accumulated) peak = std::max(peak, kept + pending + local + b.largest);
        else local += b.gradients;
        peak = std::max(peak, kept + pending + local);
        // Sent: first the completed buckets are freed, at the worst only those the bound waits for.
        while (in_flight > 0 && flying.size() >= in_flight) {
            pending -= flying.front();
            flying.pop_front();
        }
        peak = std::max(peak, kept + pending + local + b.buffer);  // the buffer filled from the local gradients
        local -= b.gradients;
        kept += b.kept;
        pending += b.in_flight;
        flying.push_back(b.in_flight);
        peak = std::max(peak, kept + pending + local);  // the received segment beside the buffer
    }
    return peak;
}

}  // namespace lathe
