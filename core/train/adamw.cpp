#include "core/train/adamw.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_foreach_addcdiv.h>
#include <ATen/ops/_foreach_addcmul.h>
#include <ATen/ops/_foreach_div.h>
#include <ATen/ops/_foreach_lerp.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_sqrt.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

#include <cmath>

#include "core/util/error.h"

namespace lathe {

void AdamWOptions::validate() const {
    if (!(beta1 >= 0 && beta1 < 1)) throw Error("adam_beta1 must be in [0, 1), got " + std::to_string(beta1));
    if (!(beta2 >= 0 && beta2 < 1)) throw Error("adam_beta2 must be in [0, 1), got " + std::to_string(beta2));
    if (!(eps > 0)) throw Error("adam_epsilon must be > 0, got " + std::to_string(eps));
}

namespace {

// Auto: the fused kernel where it pays (one launch instead of a dozen per group on a GPU); on the
// CPU the foreach path, which is PyTorch's default there and matches it to the bit.
AdamWKernel resolve_kernel(AdamWKernel wanted, const std::vector<ParamGroup>& groups) {
    if (wanted != AdamWKernel::Auto) return wanted;
    bool any = false, all_cuda = true;
    for (const auto& g : groups)
        for (const auto& p : g.params) {
            any = true;
            all_cuda = all_cuda && p.is_cuda();
        }
    return any && all_cuda ? AdamWKernel::Fused : AdamWKernel::Foreach;
}

}  // namespace

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : groups_(std::move(groups)), options_(options), kernel_(resolve_kernel(options.kernel, groups_)) {
    options_.validate();
    for (const auto& g : groups_) {
        exp_avg_.emplace_back();
        exp_avg_sq_.emplace_back();
        fused_steps_.emplace_back();
        for (const auto& p : g.params) {
            if (kernel_ == AdamWKernel::Fused && !at::isFloatingType(p.scalar_type()))
                throw Error("the fused AdamW kernel takes floating-point parameters");
            exp_avg_.back().push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
            exp_avg_sq_.back().push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
            if (kernel_ == AdamWKernel::Fused) fused_steps_.back().push_back(at::zeros({}, p.options().dtype(at::kFloat)));
        }
    }
}

void AdamW::step(double lr) {
    at::NoGradGuard no_grad;
    ++step_;
    for (size_t g = 0; g < groups_.size(); ++g) {
        std::vector<size_t> with_grad;
        for (size_t i = 0; i < groups_[g].params.size(); ++i)
            if (groups_[g].params[i].grad().defined()) with_grad.push_back(i);
        const double group_lr = lr * groups_[g].lr_scale;
        if (kernel_ == AdamWKernel::Fused) {
            // Every counter moves, with a gradient or not: one step count for the whole optimizer.
            if (!fused_steps_[g].empty()) at::_foreach_add_(fused_steps_[g], 1.0);
            if (!with_grad.empty()) step_fused(g, group_lr, with_grad);
        } else if (!with_grad.empty()) {
            step_foreach(g, group_lr, with_grad);
        }
    }
}

// torch.optim.adamw._multi_tensor_adamw, operation for operation.
void AdamW::step_foreach(size_t g, double group_lr, const std::vector<size_t>& with_grad) {
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    for (size_t i : with_grad) {
        params.push_back(groups_[g].params[i]);
        grads.push_back(groups_[g].params[i].grad());
        exp_avgs.push_back(exp_avg_[g][i]);
        exp_avg_sqs.push_back(exp_avg_sq_[g][i]);
    }
    const double b1 = options_.beta1, b2 = options_.beta2, wd = groups_[g].weight_decay;
    const double bias_correction1 = 1 - std::pow(b1, static_cast<double>(step_));
    const double bias_correction2_sqrt = std::sqrt(1 - std::pow(b2, static_cast<double>(step_)));
    const double step_size = group_lr / bias_correction1;
    if (wd != 0) at::_foreach_mul_(params, 1 - group_lr * wd);
    at::_foreach_lerp_(exp_avgs, grads, 1 - b1);
    at::_foreach_mul_(exp_avg_sqs, b2);
    at::_foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - b2);
    std::vector<at::Tensor> denom = at::_foreach_sqrt(exp_avg_sqs);
    at::_foreach_div_(denom, bias_correction2_sqrt);
    at::_foreach_add_(denom, options_.eps);
    at::_foreach_addcdiv_(params, exp_avgs, denom, -step_size);
}

// torch.optim.adamw._fused_adamw: the kernel reads the step counters on the device.
void AdamW::step_fused(size_t g, double group_lr, const std::vector<size_t>& with_grad) {
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    for (size_t i : with_grad) {
        params.push_back(groups_[g].params[i]);
        grads.push_back(groups_[g].params[i].grad());
        exp_avgs.push_back(exp_avg_[g][i]);
        exp_avg_sqs.push_back(exp_avg_sq_[g][i]);
        steps.push_back(fused_steps_[g][i]);
    }
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, group_lr, options_.beta1, options_.beta2,
                      groups_[g].weight_decay, options_.eps, /*amsgrad=*/false, /*maximize=*/false);
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
    for (auto& group_steps : fused_steps_)
        for (auto& s : group_steps) s.fill_(static_cast<double>(steps_taken));
}

}  // namespace lathe
