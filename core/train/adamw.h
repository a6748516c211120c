// AdamW with decoupled weight decay, computed as torch.optim.AdamW does. Two kernels:
//  - foreach: the `_foreach_*` ops of torch.optim.AdamW's default path (on the CPU they run tensor by
//    tensor, the same operations in the same order as the single-tensor path, so float32 runs match
//    PyTorch's to the bit);
//  - fused: ATen's `_fused_adamw_` (torch.optim.AdamW(fused=True)): one kernel launch per group on a
//    GPU; it rounds differently (within 1e-6 relative of foreach).
// State is kept per parameter; the step count is one for the whole optimizer (what checkpoints store).
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lathe {

enum class AdamWKernel {
    Auto,     // fused on CUDA, foreach elsewhere
    Foreach,
    Fused,
};

struct AdamWOptions {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    AdamWKernel kernel = AdamWKernel::Auto;
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
    // are skipped, as in PyTorch. Reads nothing back from the device.
    void step(double lr);
    void zero_grad();
    int64_t steps_taken() const { return step_; }
    const std::vector<ParamGroup>& groups() const { return groups_; }
    // The kernel `step` uses (Auto resolved by the parameters' device).
    AdamWKernel kernel() const { return kernel_; }

    // exp_avg / exp_avg_sq of every parameter, named "<group>.<index>.exp_avg", for checkpoints.
    std::vector<std::pair<std::string, at::Tensor>> state() const;
    // Restores what state() saved; errors when a tensor is missing or does not fit its parameter.
    void load_state(const std::map<std::string, at::Tensor>& state, int64_t steps_taken);

private:
    void step_foreach(size_t group, double group_lr, const std::vector<size_t>& with_grad);
    void step_fused(size_t group, double group_lr, const std::vector<size_t>& with_grad);

    std::vector<ParamGroup> groups_;
    AdamWOptions options_;
    AdamWKernel kernel_;
    std::vector<std::vector<at::Tensor>> exp_avg_, exp_avg_sq_;
    // fused: `_fused_adamw_` reads each parameter's step from a float32 scalar on its device (as
    // torch.optim.AdamW(fused=True) keeps it), counted there so that no step waits on a copy.
    std::vector<std::vector<at::Tensor>> fused_steps_;
    int64_t step_ = 0;
};

}  // namespace lathe
