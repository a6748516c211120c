#include "core/train/gradient_sync.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <numeric>
#include <string>

#include "core/models/decoder_lm.h"
#include "core/train/bucket_lifetime.h"
#include "core/train/zero_partition.h"
#include "core/util/error.h"

namespace lathe {

struct GradientSync::Impl {
    struct Bucket {
        std::vector<size_t> members;   // indices into params, in the order they sit in the buffer
        std::vector<int64_t> offsets;  // all-reduce: offset in the flat buffer; reduce-scatter: in the owner's segment
        int64_t numel = 0;             // all-reduce: the buffer's length
        int64_t segment = 0;           // reduce-scatter: each rank's share, padded to the largest
        int root = -1;                 // ZeRO-2, a bucket one rank owns whole (a tensor over the cap): reduced to it
        at::TensorOptions options;
        size_t waiting = 0;            // members whose gradient is not final yet this step
        bool sent = false;
        at::Tensor buffer, output;     // in flight; then the summed gradient (ZeRO-2: output, or buffer on the root)
        size_t ticket = 0;             // its collective (DataParallel::finished / wait_through)
    };

    Impl(DataParallel& g, std::vector<at::Tensor> p, std::vector<at::Tensor> a, GradientSyncOptions o)
        : group(g), params(std::move(p)), accumulated(std::move(a)), options(o) {}

    DataParallel& group;
    std::vector<at::Tensor> params, accumulated;
    GradientSyncOptions options;
    bool scatter = false;
    std::vector<int> owner;            // ZeRO-2: by param
    std::vector<Bucket> buckets;
    std::vector<size_t> bucket_of;     // by param
    std::vector<size_t> output_layer;  // params final before the backward through the layers
    std::vector<char> ready;           // by param, this step
    std::vector<char> has_gradient;    // by param: this rank had one when its bucket was sent
    size_t next = 0;                   // buckets go out in index order, the same on every rank
    std::deque<size_t> flying;         // ZeRO-2 (reduce-scatter): sent buckets whose buffers are not freed yet, oldest first
    bool armed = false;
    std::mutex mutex;                  // autograd's threads call ready()

    void build(const std::vector<at::Tensor>& output_layer_tensors);
    void ready_locked(size_t i);
    void send_ready();
    at::Tensor take_gradient(size_t i);
    void send(Bucket& b);
    void free_completed();
    void free_oldest();
    void reset();
};

namespace {

// Autograd calls this after it has added a gradient into the tensor's .grad.
struct ReadyHook : torch::autograd::PostAccumulateGradHook {
    ReadyHook(GradientSync::Impl* s, size_t i) : sync(s), index(i) {}
    void operator()(const torch::autograd::Variable&) override;
    GradientSync::Impl* sync;
    size_t index;
};

}  // namespace

void ReadyHook::operator()(const torch::autograd::Variable&) {
    std::lock_guard<std::mutex> lock(sync->mutex);
    if (!sync->armed) return;  // an earlier micro-batch, or the output layer's own backward: not final yet
    sync->ready_locked(index);
    sync->send_ready();
}

// The buckets, owners and layouts come from plan_gradient_buckets (torch-free, so the memory estimate
// divides exactly as this does); the tensors' (dtype, device) pairs keep buckets of one kind each.
void GradientSync::Impl::build(const std::vector<at::Tensor>& output_layer_tensors) {
    std::vector<SyncTensor> tensors;
    std::vector<std::pair<at::ScalarType, c10::Device>> kinds;
    for (size_t i = 0; i < params.size(); ++i) {
        const at::Tensor& p = params[i];
        const std::pair<at::ScalarType, c10::Device> kind{p.scalar_type(), p.device()};
        auto k = std::find(kinds.begin(), kinds.end(), kind);
        if (k == kinds.end()) k = kinds.insert(kinds.end(), kind);
        const bool early = std::any_of(output_layer_tensors.begin(), output_layer_tensors.end(),
                                       [&](const at::Tensor& t) { return t.defined() && accumulated[i].is_same(t); });
        tensors.push_back({.numel = p.numel(), .element_size = static_cast<int64_t>(p.element_size()),
                           .kind = static_cast<int>(k - kinds.begin()), .output_layer = early});
    }
    BucketPlan plan = plan_gradient_buckets(tensors, options.bucket_bytes, group.world_size(), options.shard_gradients, scatter);
    owner = std::move(plan.owner);
    bucket_of = std::move(plan.bucket_of);
    output_layer = std::move(plan.output_layer);
    for (GradientBucket& planned : plan.buckets) {
        Bucket b;
        b.members = std::move(planned.members);
        b.offsets = std::move(planned.offsets);
        b.numel = planned.numel;
        b.segment = planned.segment;
        b.root = planned.root;
        b.options = params[b.members[0]].options().requires_grad(false);
        buckets.push_back(std::move(b));
    }
    reset();
}

void GradientSync::Impl::ready_locked(size_t i) {
    if (ready[i]) {
        // A second gradient for a tensor already counted: harmless until its bucket is sent, wrong after.
        if (buckets[bucket_of[i]].sent)
            throw Error("data parallel: a gradient arrived for a tensor whose bucket was already reduced (a weight used twice in the "
                        "last backward pass); this model needs the reduction after backward");
        return;
    }
    ready[i] = 1;
    --buckets[bucket_of[i]].waiting;
}

void GradientSync::Impl::send_ready() {
    while (next < buckets.size() && buckets[next].waiting == 0) {
        if (scatter) free_completed();
        send(buckets[next]);
        if (scatter) flying.push_back(next);
        ++next;
    }
}

// ZeRO-2, before a bucket is sent: the buckets whose collective has completed, oldest first, give back
// their send buffer (and the backend its copy of the received segment; a non-root its reduced buffer),
// and at most kShardedBucketsInFlight - 1 stay in flight (bucket_lifetime.h, which the memory estimate
// follows). Waiting on the oldest while backward computes the next ones keeps the overlap.
void GradientSync::Impl::free_completed() {
    while (!flying.empty() && group.finished(buckets[flying.front()].ticket)) free_oldest();
    while (flying.size() >= kShardedBucketsInFlight) free_oldest();
}

void GradientSync::Impl::free_oldest() {
    Bucket& b = buckets[flying.front()];
    flying.pop_front();
    group.wait_through(b.ticket);
    if (b.root != group.rank()) b.buffer = at::Tensor();  // the root's reduced buffer is its gradient
}

// The gradient to reduce for param i (undefined when this rank has none), taken from its tensor.
at::Tensor GradientSync::Impl::take_gradient(size_t i) {
    at::Tensor& target = params[i];
    at::Tensor& source = accumulated[i];
    if (!source.is_same(target) && source.grad().defined()) {  // a bfloat16 weight's gradient, for its float32 master
        target.mutable_grad() = source.grad().to(target.scalar_type());
        source.mutable_grad() = at::Tensor();
    }
    at::Tensor g = target.grad();
    has_gradient[i] = g.defined() ? 1 : 0;
    target.mutable_grad() = at::Tensor();  // the bucket holds it now; finish() puts the sum back
    return g;
}

void GradientSync::Impl::send(Bucket& b) {
    at::NoGradGuard no_grad;
    b.sent = true;
    if (!scatter || b.root >= 0) {
        std::vector<at::Tensor> pieces;
        for (size_t m : b.members) {
            at::Tensor g = take_gradient(m);
            pieces.push_back(g.defined() ? g.reshape({-1}) : at::zeros({params[m].numel()}, b.options));
        }
        b.buffer = at::cat(pieces);
        b.ticket = b.root >= 0 ? group.start_sum_to(b.buffer, b.root) : group.start_sum(b.buffer);
        return;
    }
    const int world = group.world_size();
    b.buffer = at::zeros({b.segment * world}, b.options);
    for (size_t k = 0; k < b.members.size(); ++k) {
        const size_t m = b.members[k];
        at::Tensor g = take_gradient(m);
        if (g.defined()) b.buffer.narrow(0, owner[m] * b.segment + b.offsets[k], params[m].numel()).copy_(g.reshape({-1}));
    }
    std::vector<at::Tensor> shares;
    for (int r = 0; r < world; ++r) shares.push_back(b.buffer.narrow(0, r * b.segment, b.segment));
    b.output = at::empty({b.segment}, b.options);
    b.ticket = group.start_sum_scatter(b.output, shares);
}

void GradientSync::Impl::reset() {
    ready.assign(params.size(), 0);
    has_gradient.assign(params.size(), 0);
    for (Bucket& b : buckets) {
        b.waiting = b.members.size();
        b.sent = false;
        b.buffer = b.output = at::Tensor();
    }
    flying.clear();
    next = 0;
    armed = false;
}

GradientSync::GradientSync(DataParallel& group, std::vector<at::Tensor> params, std::vector<at::Tensor> accumulated,
                           const std::vector<at::Tensor>& output_layer, GradientSyncOptions options)
    : impl_(std::make_unique<Impl>(group, std::move(params), std::move(accumulated), options)) {
    LATHE_ASSERT(impl_->params.size() == impl_->accumulated.size());
    impl_->scatter = options.shard_gradients && options.reduce_scatter && group.reduce_scatter_available();
    impl_->build(output_layer);
    for (size_t i = 0; i < impl_->accumulated.size(); ++i)
        torch::autograd::impl::set_post_acc_grad_hooks(impl_->accumulated[i], std::make_unique<ReadyHook>(impl_.get(), i));
}

GradientSync::~GradientSync() {
    for (const at::Tensor& t : impl_->accumulated) torch::autograd::impl::post_acc_grad_hooks(t).reset();
}

void GradientSync::arm() {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->armed = true;
    for (size_t i : impl_->output_layer) impl_->ready_locked(i);
    impl_->send_ready();
}

at::Tensor GradientSync::finish(const at::Tensor& loss) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    Impl& s = *impl_;
    s.armed = false;
    for (size_t i = 0; i < s.params.size(); ++i)
        if (!s.ready[i]) s.ready_locked(i);
    s.send_ready();

    // The loss (one value or several), then per param whether this rank had a gradient for it: summed last.
    const int64_t sums = loss.numel();
    at::Tensor extras = at::empty({static_cast<int64_t>(s.params.size()) + sums}, at::TensorOptions().dtype(at::kDouble));
    double* e = extras.data_ptr<double>();
    for (size_t i = 0; i < s.params.size(); ++i) e[sums + static_cast<int64_t>(i)] = s.has_gradient[i];
    extras = extras.to(loss.device());
    extras.narrow(0, 0, sums).copy_(loss.reshape({-1}));
    s.group.start_sum(extras);
    s.group.wait_started();
    while (!s.flying.empty()) s.free_oldest();

    at::Tensor counts_host = extras.narrow(0, sums, static_cast<int64_t>(s.params.size())).cpu();
    const double* counts = counts_host.data_ptr<double>();
    const int rank = s.group.rank();
    for (Impl::Bucket& b : s.buckets) {
        for (size_t k = 0; k < b.members.size(); ++k) {
            const size_t m = b.members[k];
            at::Tensor& p = s.params[m];
            const bool keep = counts[m] > 0 && (s.owner.empty() || s.owner[m] == rank);
            if (!keep) {
                p.mutable_grad() = at::Tensor();
                continue;
            }
            const at::Tensor& summed = s.scatter && b.root < 0 ? b.output : b.buffer;
            p.mutable_grad() = summed.narrow(0, b.offsets[k], p.numel()).view(p.sizes());
        }
    }
    at::Tensor total = extras.narrow(0, 0, sums).view(loss.sizes());
    s.reset();
    return total;
}

const std::vector<int>& GradientSync::owners() const { return impl_->owner; }
bool GradientSync::reduce_scatters() const { return impl_->scatter; }
size_t GradientSync::bucket_count() const { return impl_->buckets.size(); }
size_t GradientSync::buckets_sent() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->next;
}

std::vector<at::Tensor> output_layer_tensors(const DecoderLM& lm) {
    std::vector<at::Tensor> out;
    const Linear& head = lm.lm_head;
    for (const at::Tensor& t : {head.weight, head.bias})
        if (t.defined() && !(lm.embed.defined() && t.is_same(lm.embed))) out.push_back(t);
    if (head.lora)
        for (const at::Tensor& t : {head.lora->A, head.lora->B, head.lora->magnitude})
            if (t.defined()) out.push_back(t);
    return out;
}

}  // namespace lathe
