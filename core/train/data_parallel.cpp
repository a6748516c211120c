#include "core/train/data_parallel.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

// LibTorch's CMake defines USE_C10D_GLOO / USE_C10D_NCCL for builds that have them; Gloo's headers are
// vendored (third_party/gloo), NCCL's come with the CUDA wheel (nvidia/nccl/include).
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define LATHE_HAS_GLOO 1
#endif
#if defined(LATHE_TORCH_HAS_CUDA) && defined(USE_C10D_NCCL) && __has_include(<nccl.h>)
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define LATHE_HAS_NCCL 1
#endif

#include <cstdlib>
#include <utility>

#include "core/util/error.h"

namespace lathe {

namespace {

// What a bucket holds at most: DDP's default bucket_cap_mb.
constexpr int64_t kBucketBytes = 25LL * 1024 * 1024;

std::string seconds(std::chrono::seconds t) { return std::to_string(t.count()) + " s"; }

// c10d's message without the C++ backtrace LibTorch appends to it.
std::string message_of(const std::exception& e) {
    if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) return c10_error->what_without_backtrace();
    return e.what();
}

}  // namespace

struct DataParallel::Impl {
    DistributedEnv env;
    std::string backend_name;
    std::chrono::seconds timeout{0};
    c10::Device device{at::kCPU};  // where the collectives' buffers live
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::Backend> group;

    // Runs a collective (or its wait), turning c10d's errors into one that says what probably happened.
    template <typename F>
    auto collective(const char* what, F&& f) -> decltype(f()) {
        try {
            return f();
        } catch (const std::exception& e) {
            throw Error("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) + ": the " + backend_name + " " + what +
                        " failed, most likely because another rank died or stopped (its own output says why; ddp_timeout is " +
                        seconds(timeout) + "): " + message_of(e));
        }
    }

    void all_reduce(std::vector<std::vector<at::Tensor>>& buffers, c10d::ReduceOp op, const char* what) {
        std::vector<c10::intrusive_ptr<c10d::Work>> works;
        c10d::AllreduceOptions options;
        options.reduceOp = op;
        for (auto& b : buffers) works.push_back(collective(what, [&] { return group->allreduce(b, options); }));
        for (auto& w : works) collective(what, [&] { return w->wait(); });
    }
};

DataParallel::DataParallel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DataParallel::~DataParallel() = default;

int DataParallel::rank() const { return impl_->env.rank; }
int DataParallel::world_size() const { return impl_->env.world_size; }
const std::string& DataParallel::backend() const { return impl_->backend_name; }

std::unique_ptr<DataParallel> DataParallel::join(const DistributedEnv& env, c10::Device device, std::chrono::seconds timeout) {
    auto impl = std::make_unique<Impl>();
    impl->env = env;
    impl->timeout = timeout;
    impl->device = device.is_cuda() && device.index() < 0 ? c10::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank)) : device;
    impl->backend_name = device.is_cuda() ? "nccl" : "gloo";
    const std::string who = "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size);
    const std::string advice = "check that every rank runs (torchrun or `lathe launch`), that MASTER_ADDR/MASTER_PORT name rank 0's machine "
                               "and a port it can listen on, and that no firewall is in the way";
    try {
        c10d::TCPStoreOptions options;
        options.port = static_cast<std::uint16_t>(env.master_port);
        // Under torchrun the agent already serves the store on MASTER_PORT; otherwise rank 0 does.
        options.isServer = env.rank == 0 && !env.agent_store;
        options.numWorkers = static_cast<std::size_t>(env.world_size);
        options.waitWorkers = true;
        options.timeout = timeout;
        options.multiTenant = true;
        auto tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
        // Keys of this job (and of this restart): a store torchrun keeps across restarts holds older ones.
        const std::string prefix = "lathe/" + (env.run_id.empty() ? std::string("run") : env.run_id) + "/" + std::to_string(env.restart_count);
        impl->store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
    } catch (const std::exception& e) {
        throw Error(who + " could not join the process group at " + env.address() + " within ddp_timeout (" + seconds(timeout) + "): " +
                    advice + ". c10d said: " + message_of(e));
    }
    try {
        if (device.is_cuda()) {
#ifdef LATHE_HAS_NCCL
            c10::cuda::set_device(impl->device.index());
            auto options = c10d::ProcessGroupNCCL::Options::create();
            options->timeout = timeout;
            impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, env.rank, env.world_size, options);
#else
            throw Error("this LibTorch has no NCCL (c10d's ProcessGroupNCCL): train on CUDA devices with a CUDA build of LibTorch, or set device: cpu");
#endif
        } else {
#ifdef LATHE_HAS_GLOO
            auto options = c10d::ProcessGroupGloo::Options::create(timeout);
            // GLOO_SOCKET_IFNAME picks the network interface, as in PyTorch; else the address this host's name resolves to.
            const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
            options->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                                         : c10d::ProcessGroupGloo::createDefaultDevice());
            impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, env.rank, env.world_size, options);
#else
            throw Error("this LibTorch has no Gloo (c10d's ProcessGroupGloo), which data parallel training on CPUs needs");
#endif
        }
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw Error(who + " reached the store at " + env.address() + " but the " + impl->backend_name + " group did not form within ddp_timeout (" +
                    seconds(timeout) + "): " + advice + ". c10d said: " + message_of(e));
    }
    return std::unique_ptr<DataParallel>(new DataParallel(std::move(impl)));
}

at::Tensor DataParallel::sum_gradients(const std::vector<at::Tensor>& params, const at::Tensor& loss) {
    // The last buffer: the loss (one value or several), then per parameter whether this rank has a gradient for it.
    const int64_t sums = loss.numel();
    at::Tensor extras = at::empty({static_cast<int64_t>(params.size()) + sums}, at::TensorOptions().dtype(at::kDouble));
    double* e = extras.data_ptr<double>();
    for (size_t i = 0; i < params.size(); ++i) e[sums + static_cast<int64_t>(i)] = params[i].grad().defined() ? 1.0 : 0.0;
    extras = extras.to(loss.device());
    extras.narrow(0, 0, sums).copy_(loss.reshape({-1}));

    // Buckets of consecutive parameters of one dtype and device, each flattened into one buffer.
    struct Bucket {
        std::vector<size_t> members;
        std::vector<at::Tensor> buffer;  // one flat tensor
    };
    std::vector<Bucket> buckets;
    std::vector<at::Tensor> pieces;
    int64_t bytes = 0;
    auto close = [&] {
        if (pieces.empty()) return;
        buckets.back().buffer = {at::cat(pieces)};
        pieces.clear();
        bytes = 0;
    };
    for (size_t i = 0; i < params.size(); ++i) {
        const at::Tensor& p = params[i];
        const bool fits = !buckets.empty() && !pieces.empty() && bytes + p.numel() * p.element_size() <= kBucketBytes &&
                          pieces.back().scalar_type() == p.scalar_type() && pieces.back().device() == p.device();
        if (!fits) {
            close();
            buckets.emplace_back();
        }
        buckets.back().members.push_back(i);
        pieces.push_back(p.grad().defined() ? p.grad().reshape({-1}) : at::zeros({p.numel()}, p.options()));
        bytes += p.numel() * p.element_size();
    }
    close();

    std::vector<std::vector<at::Tensor>> buffers;
    for (auto& b : buckets) buffers.push_back(b.buffer);
    buffers.push_back({extras});
    impl_->all_reduce(buffers, c10d::ReduceOp::SUM, "all-reduce of the gradients");

    at::Tensor have = buffers.back()[0].narrow(0, sums, static_cast<int64_t>(params.size())).cpu();
    const double* counts = have.data_ptr<double>();
    for (size_t b = 0; b < buckets.size(); ++b) {
        const at::Tensor& flat = buffers[b][0];
        int64_t offset = 0;
        for (size_t i : buckets[b].members) {
            at::Tensor p = params[i];
            at::Tensor summed = flat.narrow(0, offset, p.numel()).view(p.sizes());
            offset += p.numel();
            if (counts[i] == 0) {
                p.mutable_grad() = at::Tensor();
            } else if (p.grad().defined()) {
                p.mutable_grad().copy_(summed);
            } else {
                p.mutable_grad() = summed.clone();
            }
        }
    }
    return buffers.back()[0].narrow(0, 0, sums).view(loss.sizes());
}

void DataParallel::broadcast(const std::vector<std::pair<at::Tensor, int>>& tensors_and_roots) {
    std::vector<std::vector<at::Tensor>> buffers;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    buffers.reserve(tensors_and_roots.size());  // the collectives hold references into it
    for (const auto& [tensor, root] : tensors_and_roots) {
        buffers.push_back({tensor});
        c10d::BroadcastOptions options;
        options.rootRank = root;
        works.push_back(impl_->collective("broadcast", [&] { return impl_->group->broadcast(buffers.back(), options); }));
    }
    for (auto& w : works) impl_->collective("broadcast", [&] { return w->wait(); });
}

bool DataParallel::any(bool flag) {
    at::Tensor t = at::zeros({1}, at::TensorOptions().dtype(at::kDouble));
    if (flag) t.fill_(1.0);
    std::vector<std::vector<at::Tensor>> buffers = {{t.to(impl_->device)}};
    impl_->all_reduce(buffers, c10d::ReduceOp::MAX, "stop check");
    return buffers[0][0].cpu().item<double>() > 0;
}

void DataParallel::barrier() { (void)any(false); }

}  // namespace lathe
