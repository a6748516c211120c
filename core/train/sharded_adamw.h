// ZeRO-1 for data parallel runs: each rank keeps the AdamW moments of its share of the trained tensors
// only (1/N of the optimizer state), updates that share, and broadcasts it to the other ranks. Every
// rank holds the whole gradient (summed by DataParallel::sum_gradients) and the whole weights, so the
// update of each tensor is exactly the single-process AdamW's. Checkpoints keep the whole state under
// AdamW's own names, so they resume with any number of ranks.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/train/adamw.h"
#include "core/train/data_parallel.h"

namespace lathe {

class ShardedAdamW {
public:
    // Which rank updates a tensor (ZeRO-2: the rank its gradient is reduce-scattered to).
    using OwnerOf = std::function<int(const at::Tensor&)>;
    // `groups` are every rank's (identical) parameter groups. Without `owner_of`, the tensors are dealt out
    // largest first to the rank holding the fewest elements.
    ShardedAdamW(std::vector<ParamGroup> groups, AdamWOptions options, DataParallel& group, const OwnerOf& owner_of = nullptr);

    // Updates this rank's share with learning rate `lr`, then every tensor from the rank that owns it.
    void step(double lr);
    // Restores a checkpoint's whole state (AdamW::state()'s names): each rank takes its share.
    void load_state(const std::map<std::string, at::Tensor>& state, int64_t steps_taken);
    // Collective: the whole state gathered into an AdamW on rank 0 (for the checkpoint); nullopt on the
    // other ranks.
    std::optional<AdamW> gather_on_first_rank();

    // The rank that owns each tensor of group g (by its index in the group).
    const std::vector<std::vector<int>>& owners() const { return owner_; }
    // This rank's AdamW state (the moments of its share), under the local optimizer's names.
    std::vector<std::pair<std::string, at::Tensor>> local_state() const { return local_->state(); }

private:
    std::vector<ParamGroup> groups_;  // all tensors
    AdamWOptions options_;
    DataParallel& group_;
    std::vector<std::vector<int>> owner_;          // [group][index] -> rank
    std::vector<std::vector<size_t>> local_index_;  // [group][index] -> index in local_'s group (owned ones)
    std::optional<AdamW> local_;                    // over the owned tensors only
};

}  // namespace lathe
