#include "core/train/master_weights.h"

#include <ATen/core/grad_mode.h>

#include "core/util/error.h"

namespace lathe {

MasterWeights::MasterWeights(std::vector<std::pair<std::string, at::Tensor>> model_params) : model_(std::move(model_params)) {
    for (const auto& [name, p] : model_) masters_.emplace_back(name, p.detach().to(at::kFloat).clone());
}

std::vector<at::Tensor> MasterWeights::model_tensors() const {
    std::vector<at::Tensor> out;
    for (const auto& [_, p] : model_) out.push_back(p);
    return out;
}

void MasterWeights::gather_gradients() {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < model_.size(); ++i) {
        at::Tensor& p = model_[i].second;
        if (!p.grad().defined()) continue;
        masters_[i].second.mutable_grad() = p.grad().to(at::kFloat);
        p.mutable_grad() = at::Tensor();
    }
}

void MasterWeights::publish() {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < model_.size(); ++i) model_[i].second.copy_(masters_[i].second);
}

void MasterWeights::load(const std::map<std::string, at::Tensor>& saved) {
    at::NoGradGuard no_grad;
    for (auto& [name, master] : masters_) {
        auto it = saved.find(name);
        if (it == saved.end()) throw Error("master weights: '" + name + "' is missing from the checkpoint");
        master.copy_(it->second);
    }
    publish();
}

}  // namespace lathe
