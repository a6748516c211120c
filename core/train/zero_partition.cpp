#include "core/train/zero_partition.h"

#include <algorithm>
#include <numeric>

namespace lathe {

std::vector<int> deal_largest_first(const std::vector<int64_t>& numels, int world_size) {
    std::vector<size_t> order(numels.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return numels[a] > numels[b]; });
    std::vector<int64_t> load(static_cast<size_t>(world_size), 0);
    std::vector<int> owner(numels.size(), 0);
    for (size_t i : order) {
        const size_t r = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
        owner[i] = static_cast<int>(r);
        load[r] += numels[i];
    }
    return owner;
}

namespace {

// Within the bucket, largest tensor first, each to the rank with the fewest of the bucket's elements so
// far (then the fewest overall): every rank's segment of the reduce-scatter is about as long as the others'.
void assign_owners(const std::vector<SyncTensor>& tensors, const GradientBucket& b, std::vector<int>& owner, std::vector<int64_t>& global_load) {
    std::vector<size_t> by_size = b.members;
    std::stable_sort(by_size.begin(), by_size.end(), [&](size_t x, size_t y) { return tensors[x].numel > tensors[y].numel; });
    std::vector<int64_t> load(global_load.size(), 0);
    for (size_t m : by_size) {
        size_t best = 0;
        for (size_t r = 1; r < load.size(); ++r)
            if (load[r] < load[best] || (load[r] == load[best] && global_load[r] < global_load[best])) best = r;
        owner[m] = static_cast<int>(best);
        load[best] += tensors[m].numel;
        global_load[best] += tensors[m].numel;
    }
}

}  // namespace

BucketPlan plan_gradient_buckets(const std::vector<SyncTensor>& tensors, int64_t bucket_bytes, int world_size, bool shard_gradients,
                                 bool reduce_scatter) {
    BucketPlan plan;
    const size_t n = tensors.size();
    // Backward's order, roughly: the output layer's tensors (final before the backward through the layers
    // starts), then the rest from the last registered (the top layer) to the first (the embedding), as DDP
    // orders them.
    std::vector<size_t> order;
    for (size_t i = 0; i < n; ++i)
        if (tensors[i].output_layer) {
            order.push_back(i);
            plan.output_layer.push_back(i);
        }
    for (size_t i = n; i-- > 0;)
        if (!tensors[i].output_layer) order.push_back(i);

    plan.bucket_of.assign(n, 0);
    int64_t bytes = 0;
    for (size_t i : order) {
        const SyncTensor& t = tensors[i];
        const int64_t size = t.numel * t.element_size;
        const bool fits = !plan.buckets.empty() && bytes + size <= bucket_bytes && tensors[plan.buckets.back().members.back()].kind == t.kind &&
                          tensors[plan.buckets.back().members.back()].output_layer == t.output_layer;
        if (!fits) {
            plan.buckets.emplace_back();
            plan.buckets.back().element_size = t.element_size;
            bytes = 0;
        }
        plan.buckets.back().members.push_back(i);
        plan.bucket_of[i] = plan.buckets.size() - 1;
        bytes += size;
    }
    std::vector<int64_t> global_load(static_cast<size_t>(world_size), 0);
    if (shard_gradients) plan.owner.assign(n, 0);
    const bool scatter = shard_gradients && reduce_scatter;
    for (GradientBucket& b : plan.buckets) {
        if (shard_gradients) assign_owners(tensors, b, plan.owner, global_load);
        // A bucket one rank owns whole is reduced to that rank: a reduce-scatter would pad every other
        // rank's share to its size (N times the tensor, in memory and on the wire).
        if (scatter && std::all_of(b.members.begin(), b.members.end(), [&](size_t m) { return plan.owner[m] == plan.owner[b.members[0]]; }))
            b.root = plan.owner[b.members[0]];
        if (scatter && b.root < 0) {
            std::vector<int64_t> fill(static_cast<size_t>(world_size), 0);
            for (size_t m : b.members) {
                b.offsets.push_back(fill[static_cast<size_t>(plan.owner[m])]);
                fill[static_cast<size_t>(plan.owner[m])] += tensors[m].numel;
            }
            b.segment = *std::max_element(fill.begin(), fill.end());
        } else {
            for (size_t m : b.members) {
                b.offsets.push_back(b.numel);
                b.numel += tensors[m].numel;
            }
        }
    }
    return plan;
}

}  // namespace lathe
