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

    // Sums every parameter's gradient over the ranks, in place, through bucketed all-reduces that are all
    // in flight at once; the step's loss (float64 on the device: this rank's share of the global mean, a
    // scalar, or a vector with the step's other per-rank sums after it) rides in the last bucket and comes
    // back summed, in its shape. A gradient undefined on this rank counts as zeros;
    // one undefined on every rank stays undefined (the optimizer skips it, as in a single process).
    at::Tensor sum_gradients(const std::vector<at::Tensor>& params, const at::Tensor& loss);

    // Broadcasts each tensor in place from the rank paired with it, all of them in flight at once.
    void broadcast(const std::vector<std::pair<at::Tensor, int>>& tensors_and_roots);

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
