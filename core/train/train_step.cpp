#include "core/train/train_step.h"

#include <ATen/ops/cross_entropy_loss.h>

#include "core/util/error.h"

namespace lathe {

double forward_backward(LoadedModel& model, const std::vector<Batch>& micro_batches) {
    if (!model.lm) throw Error("training supports causal language models");
    int64_t total_tokens = 0;
    for (const auto& b : micro_batches) total_tokens += b.label_tokens;
    if (total_tokens == 0) throw Error("a training step has no label tokens: every label is -100");

    double loss_value = 0;
    for (const auto& b : micro_batches) {
        at::Tensor hidden = model.lm->hidden_states(b.input_ids, b.attention_mask, {}, nullptr, /*training=*/true);
        at::Tensor logits = model.lm->logits(hidden.narrow(1, 0, hidden.size(1) - 1)).to(at::kFloat);
        at::Tensor targets = b.labels.narrow(1, 1, b.labels.size(1) - 1).to(logits.device());
        at::Tensor sum = at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}), {},
                                                at::Reduction::Sum, -100);
        at::Tensor loss = sum / static_cast<double>(total_tokens);
        loss.backward();
        loss_value += loss.item<double>();
    }
    return loss_value;
}

}  // namespace lathe
