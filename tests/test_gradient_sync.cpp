// GradientSync (core/train/gradient_sync.h) between two ranks in one process (two threads joined into a
// Gloo group through a TCPStore on localhost): no bucket goes out during an earlier micro-batch's
// backward, every bucket with a gradient goes out during the last one's (the overlap), and finish() leaves
// the sum over both ranks and both micro-batches; ZeRO-2 leaves it on the owning rank only, with
// reduce_scatter and with the all-reduce that stands in for it.
#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <thread>

#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/zeros.h>

#include "core/train/data_parallel.h"
#include "core/train/gradient_sync.h"
#include "tests/two_ranks.h"

namespace lathe {
namespace {

using test::on_two_ranks;

// Tensor 0 (2 floats) gets no gradient anywhere; tensor 1 (3) only on rank 0; tensors 2 (4) and 3 (5) on
// both. Buckets are filled last registered first and sent in that order on both ranks, each once all its
// tensors have their gradient, the rest at finish(): `sent` is how many went out during the backward on
// rank 0 and on rank 1.
struct Case {
    bool shard = false, reduce_scatter = false;
    int64_t bucket_bytes = 1;
    size_t buckets = 0;
    size_t sent[2] = {0, 0};
};

void expect_summed_gradients(const Case& c) {
    const bool shard = c.shard, reduce_scatter = c.reduce_scatter;
    on_two_ranks([&](DataParallel& group) {
        std::vector<at::Tensor> params = {at::zeros({2}).requires_grad_(), at::zeros({3}).requires_grad_(), at::zeros({4}).requires_grad_(),
                                          at::zeros({5}).requires_grad_()};
        GradientSync sync(group, params, params, {}, GradientSyncOptions{.bucket_bytes = c.bucket_bytes, .shard_gradients = shard, .reduce_scatter = reduce_scatter});
        ASSERT_EQ(sync.bucket_count(), c.buckets);
        EXPECT_EQ(sync.reduce_scatters(), shard && reduce_scatter);
        const double r = group.rank() + 1;  // this rank's factor
        auto backward = [&](double scale) {
            at::Tensor loss = (params[2] * (scale * r)).sum() + (params[3] * (2 * scale * r)).sum();
            if (group.rank() == 0) loss = loss + (params[1] * scale).sum();
            loss.backward();
        };
        backward(1);  // an earlier micro-batch: accumulates here, sends nothing
        EXPECT_EQ(sync.buckets_sent(), 0u);
        sync.arm();
        backward(10);  // the last one
        const size_t during_backward = c.sent[group.rank()];
        EXPECT_EQ(sync.buckets_sent(), during_backward);
        at::Tensor loss = sync.finish(at::scalar_tensor(r, at::TensorOptions().dtype(at::kDouble)));
        EXPECT_EQ(loss.item<double>(), 3.0);

        // Each gradient summed over micro-batches (1 + 10) and ranks (factors 1 + 2).
        const std::vector<double> expected = {0, 11, 11 * 3, 2 * 11 * 3};
        EXPECT_FALSE(params[0].grad().defined());  // no rank had one
        for (size_t i = 1; i < params.size(); ++i) {
            const bool mine = !shard || sync.owners()[i] == group.rank();
            ASSERT_EQ(params[i].grad().defined(), mine) << "tensor " << i << " on rank " << group.rank();
            if (mine) {
                EXPECT_TRUE(params[i].grad().eq(expected[i]).all().item<bool>()) << "tensor " << i << ": " << params[i].grad();
            }
        }
        if (shard) {  // both ranks own something
            EXPECT_NE(std::count(sync.owners().begin(), sync.owners().end(), 0), 0);
            EXPECT_NE(std::count(sync.owners().begin(), sync.owners().end(), 1), 0);
        }
        // The next step starts afresh.
        for (auto& p : params) p.mutable_grad() = at::Tensor();
        sync.arm();
        backward(1);
        EXPECT_EQ(sync.buckets_sent(), during_backward);
        sync.finish(at::scalar_tensor(0.0, at::TensorOptions().dtype(at::kDouble)));
    });
}

// One tensor a bucket: 3, 2 and (on rank 0, which has its gradient) 1 go out during the backward.
TEST(GradientSync, AllReduceOverlapsTheLastBackwardOnly) {
    expect_summed_gradients({.shard = false, .reduce_scatter = false, .bucket_bytes = 1, .buckets = 4, .sent = {3, 2}});
}
// Buckets {3, 2} and {1, 0} (36 bytes), each split between the ranks: reduce-scattered.
TEST(GradientSync, Zero2ReduceScattersToTheOwners) {
    expect_summed_gradients({.shard = true, .reduce_scatter = true, .bucket_bytes = 36, .buckets = 2, .sent = {1, 1}});
}
// One tensor a bucket, so each is owned whole by one rank: reduced to it.
TEST(GradientSync, Zero2ReducesABucketOneRankOwnsToIt) {
    expect_summed_gradients({.shard = true, .reduce_scatter = true, .bucket_bytes = 1, .buckets = 4, .sent = {3, 2}});
}
TEST(GradientSync, Zero2WithoutReduceScatterKeepsTheOwnersSlices) {
    expect_summed_gradients({.shard = true, .reduce_scatter = false, .bucket_bytes = 36, .buckets = 2, .sent = {1, 1}});
}

}  // namespace
}  // namespace lathe
