#include "core/train/adamw.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/zeros_like.h>

#include <cmath>

#include "core/util/error.h"

namespace lathe {

void AdamWOptions::validate() const {
    if (!(beta1 >= 0 && beta1 < 1)) throw Error("adam_beta1 must be in [0, 1), got " + std::to_string(beta1));
    if (!(beta2 >= 0 && beta2 < 1)) throw Error("adam_beta2 must be in [0, 1), got " + std::to_string(beta2));
    if (!(eps > 0)) throw Error("adam_epsilon must be > 0, got " + std::to_string(eps));
}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options) : groups_(std::move(groups)), options_(options) {
    options_.validate();
    for (const auto& g : groups_) {
        exp_avg_.emplace_back();
        exp_avg_sq_.emplace_back();
        for (const auto& p : g.params) {
            exp_avg_.back().push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
            exp_avg_sq_.back().push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
        }
    }
}

void AdamW::step(double lr) {
    at::NoGradGuard no_grad;
    ++step_;
    const double b1 = options_.beta1, b2 = options_.beta2;
    const double bias_correction1 = 1 - std::pow(b1, static_cast<double>(step_));
    const double bias_correction2 = 1 - std::pow(b2, static_cast<double>(step_));
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    for (size_t g = 0; g < groups_.size(); ++g) {
        const double group_lr = lr * groups_[g].lr_scale, wd = groups_[g].weight_decay;
        const double step_size = group_lr / bias_correction1;
        for (size_t i = 0; i < groups_[g].params.size(); ++i) {
            at::Tensor p = groups_[g].params[i];
            const at::Tensor& grad = p.grad();
            if (!grad.defined()) continue;
            // torch.optim.adamw (single-tensor path): decay, moments, bias-corrected update.
            if (wd != 0) p.mul_(1 - group_lr * wd);
            exp_avg_[g][i].lerp_(grad, 1 - b1);
            exp_avg_sq_[g][i].mul_(b2).addcmul_(grad, grad, 1 - b2);
            at::Tensor denom = (exp_avg_sq_[g][i].sqrt() / bias_correction2_sqrt).add_(options_.eps);
            p.addcdiv_(exp_avg_[g][i], denom, -step_size);
        }
    }
}

void AdamW::zero_grad() {
    for (auto& g : groups_)
        for (auto& p : g.params)
            if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state() const {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (size_t g = 0; g < groups_.size(); ++g)
        for (size_t i = 0; i < groups_[g].params.size(); ++i) {
            std::string key = groups_[g].name + "." + std::to_string(i);
            out.emplace_back(key + ".exp_avg", exp_avg_[g][i]);
            out.emplace_back(key + ".exp_avg_sq", exp_avg_sq_[g][i]);
        }
    return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& state, int64_t steps_taken) {
    at::NoGradGuard no_grad;
    size_t used = 0;
    for (size_t g = 0; g < groups_.size(); ++g)
        for (size_t i = 0; i < groups_[g].params.size(); ++i)
            for (auto* slot : {&exp_avg_[g][i], &exp_avg_sq_[g][i]}) {
                std::string key = groups_[g].name + "." + std::to_string(i) + (slot == &exp_avg_[g][i] ? ".exp_avg" : ".exp_avg_sq");
                auto it = state.find(key);
                if (it == state.end()) throw Error("optimizer state has no '" + key + "'; was it saved for another model or method?");
                if (it->second.sizes() != slot->sizes()) throw Error("optimizer state '" + key + "' does not fit its parameter");
                slot->copy_(it->second);
                ++used;
            }
    if (used != state.size()) throw Error("optimizer state has more tensors than the model has parameters");
    step_ = steps_taken;
}

}  // namespace lathe
