// AdamW with decoupled weight decay, computed as torch.optim.AdamW does (same operations in the same
// order, so float32 runs match PyTorch's to rounding). State is kept per parameter.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lathe {

struct AdamWOptions {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    void validate() const;  // throws lathe::Error naming the option
};

struct ParamGroup {
    std::string name;                 // e.g. "lora_A", "lora_B", "no_decay"
    std::vector<at::Tensor> params;   // leaf tensors with requires_grad
    double lr_scale = 1.0;            // LoRA+: B learns faster than A
    double weight_decay = 0.0;
};

class AdamW {
public:
    AdamW(std::vector<ParamGroup> groups, AdamWOptions options);

    // One update with learning rate `lr` (times each group's lr_scale). Parameters without a gradient
    // are skipped, as in PyTorch.
    void step(double lr);
    void zero_grad();
    int64_t steps_taken() const { return step_; }
    const std::vector<ParamGroup>& groups() const { return groups_; }

    // exp_avg / exp_avg_sq of every parameter, named "<group>.<index>.exp_avg", for checkpoints.
    std::vector<std::pair<std::string, at::Tensor>> state() const;
    // Restores what state() saved; errors when a tensor is missing or does not fit its parameter.
    void load_state(const std::map<std::string, at::Tensor>& state, int64_t steps_taken);

private:
    std::vector<ParamGroup> groups_;
    AdamWOptions options_;
    std::vector<std::vector<at::Tensor>> exp_avg_, exp_avg_sq_;
    int64_t step_ = 0;
};

}  // namespace lathe
