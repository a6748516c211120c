#include "core/train/sharded_adamw.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty_like.h>

#include <algorithm>
#include <utility>

#include "core/train/zero_partition.h"
#include "core/util/error.h"

namespace lathe {

namespace {

// Tensors flattened into one buffer per (root, dtype), broadcast from their root, and copied back.
void broadcast_from_owners(DataParallel& group, const std::vector<std::pair<at::Tensor, int>>& tensors) {
    struct Buffer {
        int root;
        at::ScalarType dtype;
        std::vector<at::Tensor> members;
        at::Tensor flat;
    };
    std::vector<Buffer> buffers;
    for (const auto& [t, root] : tensors) {
        auto it = std::find_if(buffers.begin(), buffers.end(), [&](const Buffer& b) { return b.root == root && b.dtype == t.scalar_type(); });
        if (it == buffers.end()) it = buffers.insert(buffers.end(), Buffer{root, t.scalar_type(), {}, {}});
        it->members.push_back(t);
    }
    std::vector<std::pair<at::Tensor, int>> flats;
    for (auto& b : buffers) {
        std::vector<at::Tensor> pieces;
        for (const auto& t : b.members) pieces.push_back(t.detach().reshape({-1}));
        b.flat = at::cat(pieces);
        flats.push_back({b.flat, b.root});
    }
    group.broadcast(flats);
    at::NoGradGuard no_grad;
    for (auto& b : buffers) {
        if (b.root == group.rank()) continue;  // its own tensors are already what it sent
        int64_t offset = 0;
        for (auto& t : b.members) {
            t.detach().copy_(b.flat.narrow(0, offset, t.numel()).view(t.sizes()));
            offset += t.numel();
        }
    }
}

std::string state_key(const std::string& group, size_t index, const char* which) { return group + "." + std::to_string(index) + "." + which; }

}  // namespace

ShardedAdamW::ShardedAdamW(std::vector<ParamGroup> groups, AdamWOptions options, DataParallel& group, const OwnerOf& owner_of)
    : groups_(std::move(groups)), options_(options), group_(group) {
    // Auto resolved over every tensor, not the share: all ranks then run the same kernel.
    if (options_.kernel == AdamWKernel::Auto) {
        bool any = false, all_cuda = true;
        for (const auto& g : groups_)
            for (const auto& p : g.params) {
                any = true;
                all_cuda = all_cuda && p.is_cuda();
            }
        options_.kernel = any && all_cuda ? AdamWKernel::Fused : AdamWKernel::Foreach;
    }
    // Each tensor, largest first, to the rank holding the fewest elements so far (deal_largest_first, which
    // the memory estimate uses too): balanced shares, the same on every rank. ZeRO-2: where its gradient goes.
    std::vector<int64_t> numels;
    for (const auto& g : groups_)
        for (const auto& p : g.params) numels.push_back(p.numel());
    const std::vector<int> dealt = owner_of ? std::vector<int>() : deal_largest_first(numels, group.world_size());
    owner_.resize(groups_.size());
    local_index_.resize(groups_.size());
    size_t flat = 0;
    for (size_t g = 0; g < groups_.size(); ++g) {
        local_index_[g].assign(groups_[g].params.size(), 0);
        for (const auto& p : groups_[g].params) owner_[g].push_back(owner_of ? owner_of(p) : dealt[flat++]);
    }
    std::vector<ParamGroup> mine;
    for (size_t g = 0; g < groups_.size(); ++g) {
        ParamGroup shard{.name = groups_[g].name, .params = {}, .lr_scale = groups_[g].lr_scale, .weight_decay = groups_[g].weight_decay};
        for (size_t i = 0; i < groups_[g].params.size(); ++i)
            if (owner_[g][i] == group.rank()) {
                local_index_[g][i] = shard.params.size();
                shard.params.push_back(groups_[g].params[i]);
            }
        mine.push_back(std::move(shard));
    }
    local_.emplace(std::move(mine), options_);
}

void ShardedAdamW::step(double lr) {
    local_->step(lr);
    std::vector<std::pair<at::Tensor, int>> tensors;
    for (size_t g = 0; g < groups_.size(); ++g)
        for (size_t i = 0; i < groups_[g].params.size(); ++i) tensors.push_back({groups_[g].params[i], owner_[g][i]});
    broadcast_from_owners(group_, tensors);
}

void ShardedAdamW::load_state(const std::map<std::string, at::Tensor>& state, int64_t steps_taken) {
    std::map<std::string, at::Tensor> mine;
    for (size_t g = 0; g < groups_.size(); ++g)
        for (size_t i = 0; i < groups_[g].params.size(); ++i) {
            if (owner_[g][i] != group_.rank()) continue;
            for (const char* which : {"exp_avg", "exp_avg_sq"}) {
                auto it = state.find(state_key(groups_[g].name, i, which));
                if (it == state.end()) throw Error("optimizer state has no '" + state_key(groups_[g].name, i, which) + "'; was it saved for another model or method?");
                mine[state_key(groups_[g].name, local_index_[g][i], which)] = it->second;
            }
        }
    local_->load_state(mine, steps_taken);
}

std::optional<AdamW> ShardedAdamW::gather_on_first_rank() {
    // Every rank's moments, broadcast from their owners into buffers shaped like the parameters.
    std::map<std::string, at::Tensor> local_state;
    for (auto& [name, t] : local_->state()) local_state[name] = t;
    std::map<std::string, at::Tensor> whole;
    std::vector<std::pair<at::Tensor, int>> tensors;
    for (size_t g = 0; g < groups_.size(); ++g)
        for (size_t i = 0; i < groups_[g].params.size(); ++i)
            for (const char* which : {"exp_avg", "exp_avg_sq"}) {
                at::Tensor t = owner_[g][i] == group_.rank() ? local_state.at(state_key(groups_[g].name, local_index_[g][i], which)).clone()
                                                             : at::empty_like(groups_[g].params[i]);
                whole[state_key(groups_[g].name, i, which)] = t;
                tensors.push_back({t, owner_[g][i]});
            }
    broadcast_from_owners(group_, tensors);
    if (group_.rank() != 0) return std::nullopt;
    std::optional<AdamW> gathered;
    gathered.emplace(groups_, options_);
    gathered->load_state(whole, local_->steps_taken());
    return gathered;
}

}  // namespace lathe
