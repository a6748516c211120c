// Plain SGD (optimizer: sgd), as transformers' `sgd` runs it: torch.optim.SGD with no momentum, the
// weight decay added to the gradient (grad + weight_decay x param), then param -= lr x that. The same
// interface as AdamW, so the trainer drives either one; it keeps no state beyond the step count.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/train/adamw.h"  // ParamGroup

namespace lathe {

class SGD {
public:
    explicit SGD(std::vector<ParamGroup> groups);

    // One update with learning rate `lr` (times each group's lr_scale). Parameters without a gradient
    // are skipped, as in PyTorch. Reads nothing back from the device.
    void step(double lr);
    void zero_grad();
    int64_t steps_taken() const { return step_; }
    const std::vector<ParamGroup>& groups() const { return groups_; }

    // Nothing to save: SGD without momentum has no per-parameter state.
    std::vector<std::pair<std::string, at::Tensor>> state() const { return {}; }
    void load_state(const std::map<std::string, at::Tensor>& state, int64_t steps_taken);

private:
    std::vector<ParamGroup> groups_;
    int64_t step_ = 0;
};

}  // namespace lathe
