#include "core/train/sgd.h"

#include <ATen/core/grad_mode.h>

#include "core/util/error.h"

namespace lathe {

SGD::SGD(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {}

// torch.optim.sgd._single_tensor_sgd with momentum 0, operation for operation (its foreach form on a
// GPU does the same arithmetic).
void SGD::step(double lr) {
    at::NoGradGuard no_grad;
    ++step_;
    for (auto& g : groups_) {
        const double group_lr = lr * g.lr_scale;
        for (auto& p : g.params) {
            if (!p.grad().defined()) continue;
            at::Tensor d_p = g.weight_decay != 0 ? p.grad().add(p, g.weight_decay) : p.grad();
            p.add_(d_p, -group_lr);
        }
    }
}

void SGD::zero_grad() {
    for (auto& g : groups_)
        for (auto& p : g.params) p.mutable_grad() = at::Tensor();
}

void SGD::load_state(const std::map<std::string, at::Tensor>& state, int64_t steps_taken) {
    if (!state.empty()) throw Error("the checkpoint holds optimizer state (" + state.begin()->first + "), but SGD keeps none; was it saved by AdamW?");
    step_ = steps_taken;
}

}  // namespace lathe
