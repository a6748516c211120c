// bfloat16 training with float32 master weights: the model computes with its bfloat16 weights, the
// optimizer updates float32 copies, and those are rounded back into the model after every step — so
// small updates accumulate in float32 instead of vanishing below bfloat16's 8-bit mantissa.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lathe {

class MasterWeights {
public:
    // `model_params`: the trainable model tensors (requires_grad, low precision), by name.
    explicit MasterWeights(std::vector<std::pair<std::string, at::Tensor>> model_params);

    // The float32 copies, by name, in the order given: what the optimizer updates.
    const std::vector<std::pair<std::string, at::Tensor>>& masters() const { return masters_; }
    // The model tensors autograd accumulates gradients into, in the order of masters().
    std::vector<at::Tensor> model_tensors() const;
    // After backward: each master's gradient becomes its model tensor's gradient in float32.
    void gather_gradients();
    // After the optimizer step: the model tensors take the rounded masters.
    void publish();
    // Resume: masters saved with a checkpoint replace the ones made from the (rounded) model weights.
    void load(const std::map<std::string, at::Tensor>& saved);

private:
    std::vector<std::pair<std::string, at::Tensor>> model_;
    std::vector<std::pair<std::string, at::Tensor>> masters_;
};

}  // namespace lathe
