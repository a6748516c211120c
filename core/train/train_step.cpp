#include "core/train/train_step.h"

#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/nonzero.h>
#include <ATen/ops/zeros_like.h>

#include <algorithm>

#include "core/util/error.h"

namespace lathe {

namespace {

// Cross-entropy of the labeled positions, summed and divided by `total_tokens`, with its backward run
// chunk by chunk: each chunk's logits are made, differentiated into hidden.grad and the output layer's
// gradients, and freed before the next. Returns the loss value.
double chunked_loss_backward(const DecoderLM& lm, const at::Tensor& hidden, const at::Tensor& labels, int64_t total_tokens,
                             int64_t chunk_rows) {
    const int64_t H = hidden.size(-1);
    // Position t predicts label t+1; only labeled positions are scored at all.
    at::Tensor h = hidden.detach().narrow(1, 0, hidden.size(1) - 1).reshape({-1, H}).requires_grad_(true);
    at::Tensor targets = labels.narrow(1, 1, labels.size(1) - 1).reshape({-1}).to(hidden.device());
    at::Tensor positions = at::nonzero(targets != -100).squeeze(1);
    double loss_value = 0;
    for (int64_t start = 0; start < positions.size(0); start += chunk_rows) {
        at::Tensor chunk = positions.narrow(0, start, std::min(chunk_rows, positions.size(0) - start));
        at::Tensor logits = lm.logits(h.index_select(0, chunk)).to(at::kFloat);
        at::Tensor loss = at::cross_entropy_loss(logits, targets.index_select(0, chunk), {}, at::Reduction::Sum) /
                          static_cast<double>(total_tokens);
        loss.backward();
        loss_value += loss.item<double>();
    }
    // Hand the gradient of the selected hidden states back to the rest of the network.
    at::Tensor grad = at::zeros_like(hidden);
    if (h.grad().defined()) grad.narrow(1, 0, hidden.size(1) - 1).copy_(h.grad().view({hidden.size(0), hidden.size(1) - 1, H}));
    hidden.backward(grad);
    return loss_value;
}

}  // namespace

double forward_backward(LoadedModel& model, const std::vector<Batch>& micro_batches, int64_t loss_chunk_rows) {
    // The default 1024 rows of float32 logits are 600 MB with a 150k vocabulary, where the whole
    // [batch, sequence, vocab] tensor at 8 x 2048 would be 9.8 GB.
    if (loss_chunk_rows <= 0) throw Error("loss chunk must be at least one row");
    if (!model.lm) throw Error("training supports causal language models");
    int64_t total_tokens = 0;
    for (const auto& b : micro_batches) total_tokens += b.label_tokens;
    if (total_tokens == 0) throw Error("a training step has no label tokens: every label is -100");

    double loss_value = 0;
    for (const auto& b : micro_batches) {
        if (b.label_tokens == 0) continue;
        at::Tensor hidden = model.lm->hidden_states(b.input_ids, b.attention_mask, b.position_ids, nullptr, /*training=*/true, b.sequence_ids);
        loss_value += chunked_loss_backward(*model.lm, hidden, b.labels, total_tokens, loss_chunk_rows);
    }
    return loss_value;
}

}  // namespace lathe
