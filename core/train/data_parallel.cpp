#include "core/train/data_parallel.h"

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
#include <deque>
#include <optional>
#include <utility>

#include "core/util/error.h"

namespace lathe {

namespace {

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
    std::deque<std::pair<size_t, c10::intrusive_ptr<c10d::Work>>> started;  // by ticket: start_sum..., not yet waited for
    size_t next_ticket = 0;
    std::optional<bool> has_reduce_scatter;

    size_t start(c10::intrusive_ptr<c10d::Work> work) {
        started.emplace_back(next_ticket, std::move(work));
        return next_ticket++;
    }

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

size_t DataParallel::start_sum(const at::Tensor& flat) {
    std::vector<at::Tensor> tensors = {flat};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    return impl_->start(impl_->collective("all-reduce of the gradients", [&] { return impl_->group->allreduce(tensors, options); }));
}

size_t DataParallel::start_sum_scatter(const at::Tensor& output, const std::vector<at::Tensor>& inputs) {
    std::vector<at::Tensor> outputs = {output};
    std::vector<std::vector<at::Tensor>> input_lists = {inputs};
    c10d::ReduceScatterOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    return impl_->start(
        impl_->collective("reduce-scatter of the gradients", [&] { return impl_->group->reduce_scatter(outputs, input_lists, options); }));
}

size_t DataParallel::start_sum_to(const at::Tensor& flat, int root) {
    std::vector<at::Tensor> tensors = {flat};
    c10d::ReduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    options.rootRank = root;
    return impl_->start(impl_->collective("reduce of the gradients", [&] { return impl_->group->reduce(tensors, options); }));
}

bool DataParallel::finished(size_t ticket) const {
    for (const auto& [t, work] : impl_->started)
        if (t == ticket) return work->isCompleted();
    return true;
}

void DataParallel::wait_through(size_t ticket) {
    while (!impl_->started.empty() && impl_->started.front().first <= ticket) {
        // Off the list first: a failed wait throws, and the work is let go of either way.
        c10::intrusive_ptr<c10d::Work> work = std::move(impl_->started.front().second);
        impl_->started.pop_front();
        impl_->collective("gradient collective", [&] { return work->wait(); });
    }
}

void DataParallel::wait_started() {
    if (!impl_->started.empty()) wait_through(impl_->started.back().first);
}

bool DataParallel::reduce_scatter_available() {
    if (impl_->has_reduce_scatter) return *impl_->has_reduce_scatter;
    // A backend without it refuses the call itself, before anything is sent (c10d's Backend default), and
    // every rank runs the same LibTorch, so all of them take the same branch.
    at::Tensor out = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(impl_->device));
    std::vector<at::Tensor> in;
    for (int r = 0; r < world_size(); ++r) in.push_back(at::ones({1}, out.options()));
    try {
        std::vector<at::Tensor> outputs = {out};
        std::vector<std::vector<at::Tensor>> inputs = {in};
        c10d::ReduceScatterOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        auto work = impl_->group->reduce_scatter(outputs, inputs, options);
        impl_->collective("reduce-scatter check", [&] { return work->wait(); });
        impl_->has_reduce_scatter = true;
    } catch (const c10::Error& e) {
        if (std::string(e.what_without_backtrace()).find("does not support reduce_scatter") == std::string::npos) throw;
        impl_->has_reduce_scatter = false;
    }
    return *impl_->has_reduce_scatter;
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

std::vector<double> DataParallel::gather(double value) {
    at::Tensor t = at::zeros({world_size()}, at::TensorOptions().dtype(at::kDouble));
    t.select(0, rank()).fill_(value);
    std::vector<std::vector<at::Tensor>> buffers = {{t.to(impl_->device)}};
    impl_->all_reduce(buffers, c10d::ReduceOp::SUM, "gather");
    at::Tensor summed = buffers[0][0].cpu();
    return std::vector<double>(summed.data_ptr<double>(), summed.data_ptr<double>() + world_size());
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
