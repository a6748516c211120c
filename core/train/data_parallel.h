// Data parallel training on LibTorch's c10d: a process group (Gloo between CPU processes, NCCL between
// GPUs) joined through c10d's TCPStore at MASTER_ADDR:MASTER_PORT, and the few collectives the trainer
// needs. c10d stays behind this interface (its Gloo headers come from third_party/gloo).
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/train/distributed_env.h"

namespace lathe {

class DataParallel {
public:
    // Joins the group `env` describes: NCCL when `device` is a CUDA device, Gloo otherwise. Waits at most
    // `timeout` for the other ranks; that is also every collective's limit. A rank that cannot reach the
    // store, or whose group does not fill in time, gets an Error naming the address.
    static std::unique_ptr<DataParallel> join(const DistributedEnv& env, c10::Device device, std::chrono::seconds timeout);
    ~DataParallel();
    DataParallel(const DataParallel&) = delete;
    DataParallel& operator=(const DataParallel&) = delete;

    int rank() const;
    int world_size() const;
    bool writes_outputs() const { return rank() == 0; }  // events, the run store and checkpoints
    const std::string& backend() const;                  // "gloo" or "nccl"

    // Collectives left in flight (GradientSync starts one per bucket while backward runs): each is started
    // in the same order on every rank, and wait_started() waits for all of them, in that order. Each start
    // returns the collective's ticket (increasing) for finished() and wait_through().
    size_t start_sum(const at::Tensor& flat);
    // `inputs`: one equally sized slice per rank; `output` receives the sum of every rank's slice of this
    // rank (c10d's reduce_scatter). Call only when reduce_scatter_available().
    size_t start_sum_scatter(const at::Tensor& output, const std::vector<at::Tensor>& inputs);
    // `flat` summed over the ranks into `root`'s copy (c10d's reduce); the others' copies are left undefined.
    size_t start_sum_to(const at::Tensor& flat, int root);
    // Whether the collective `ticket` has completed (or failed, or was waited for already), without waiting.
    bool finished(size_t ticket) const;
    // Waits for the started collectives up to `ticket`, in order, and lets go of them, with what the backend
    // kept for them (Gloo's reduce_scatter holds a copy of what it received), on this thread.
    void wait_through(size_t ticket);
    void wait_started();
    // Whether this c10d backend has reduce_scatter (NCCL always; Gloo in newer LibTorch): a collective the
    // first time it is asked, so every rank must ask at the same point.
    bool reduce_scatter_available();

    // Broadcasts each tensor in place from the rank paired with it, all of them in flight at once.
    void broadcast(const std::vector<std::pair<at::Tensor, int>>& tensors_and_roots);

    // Every rank's `value`, by rank (a small all-reduce).
    std::vector<double> gather(double value);
    // Whether `flag` is true on any rank (a stop request seen by one rank stops all at the same step).
    bool any(bool flag);
    // Waits until every rank gets here.
    void barrier();

private:
    struct Impl;
    explicit DataParallel(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lathe
