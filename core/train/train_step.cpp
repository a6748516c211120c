#include "core/train/train_step.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/nonzero.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

#include <algorithm>
#include <cmath>

#include "core/util/error.h"
#include "kernels/dispatch.h"

namespace lathe {

namespace {

at::Tensor to_device(const at::Tensor& t, c10::Device device) {
    if (!t.defined() || t.device() == device) return t;
    if (device.is_cuda() && t.is_cpu()) return t.pin_memory().to(at::TensorOptions().device(device), /*non_blocking=*/true);
    return t.to(at::TensorOptions().device(device));
}

// The labeled positions of a batch, found on the host (where the labels are made, so no device
// sync), then copied over: `rows` indexes the flattened [B * (T-1)] positions that predict a label,
// `targets` holds those labels. Position t predicts label t+1.
struct LabeledPositions {
    at::Tensor rows, targets;
};

LabeledPositions labeled_positions(const at::Tensor& labels, c10::Device device) {
    at::Tensor targets = labels.cpu().narrow(1, 1, labels.size(1) - 1).reshape({-1});
    at::Tensor rows = at::nonzero(targets != -100).squeeze(1);
    return {to_device(rows, device), to_device(targets.index_select(0, rows), device)};
}

// Whether kernels::linear_cross_entropy takes this output layer: a plain weight (and bias) in the hidden
// states' dtype. A head with an adapter or a 4-bit weight goes through lm.logits.
bool plain_head(const Linear& head, const at::Tensor& hidden) {
    return head.weight.defined() && !head.weight_4bit && !head.lora && head.weight.scalar_type() == hidden.scalar_type();
}

// How many labeled rows go to one loss call: the fused op takes them all and makes their logits, and
// their gradients, chunk by chunk in its forward (gradients_in_forward); the composite (and lm.logits) is called, and
// differentiated, one chunk at a time, so that one chunk's logits exist at a time either way.
int64_t rows_per_loss_call(bool plain, int64_t labeled_rows, int64_t chunk_rows) {
    return plain && kernels::fused_ops_enabled() ? std::max<int64_t>(labeled_rows, 1) : chunk_rows;
}

// The summed cross-entropy of `rows` against `targets`, divided by `divisor`, through the output layer.
at::Tensor head_loss(const DecoderLM& lm, bool plain, const at::Tensor& rows, const at::Tensor& targets, double divisor, int64_t chunk_rows) {
    if (!plain) return at::cross_entropy_loss(lm.logits(rows).to(at::kFloat), targets, {}, at::Reduction::Sum) / divisor;
    kernels::LinearCrossEntropyOptions options;
    options.divisor = divisor;
    options.chunk_rows = chunk_rows;
    options.gradients_in_forward = true;  // chunked_loss_backward differentiates each loss right away
    return kernels::linear_cross_entropy(rows, lm.lm_head.weight, lm.lm_head.bias, targets, options);
}

// Cross-entropy of the labeled positions, summed and divided by `total_tokens`, with its backward run
// per loss call (rows_per_loss_call): each call's logits are made, differentiated into hidden.grad and
// the output layer's gradients, and freed before the next. Returns the loss as a float64 device scalar.
at::Tensor chunked_loss_backward(const DecoderLM& lm, const at::Tensor& hidden, const at::Tensor& labels, int64_t total_tokens,
                                 int64_t chunk_rows, const std::function<void()>& before_layers_backward) {
    const int64_t H = hidden.size(-1);
    at::Tensor h = hidden.detach().narrow(1, 0, hidden.size(1) - 1).reshape({-1, H}).requires_grad_(true);
    LabeledPositions labeled = labeled_positions(labels, hidden.device());
    const int64_t n = labeled.rows.size(0);
    const bool plain = plain_head(lm.lm_head, hidden);
    const int64_t per_call = rows_per_loss_call(plain, n, chunk_rows);
    at::Tensor loss_sum = at::zeros({}, hidden.options().dtype(at::kDouble));
    for (int64_t start = 0; start < n; start += per_call) {
        const int64_t count = std::min(per_call, n - start);
        at::Tensor loss = head_loss(lm, plain, h.index_select(0, labeled.rows.narrow(0, start, count)), labeled.targets.narrow(0, start, count),
                                    static_cast<double>(total_tokens), chunk_rows);
        loss.backward();
        loss_sum = loss_sum + loss.detach().to(at::kDouble);  // as adding each chunk's value in double on the host
    }
    // Hand the gradient of the selected hidden states back to the rest of the network.
    at::Tensor grad = at::zeros_like(hidden);
    if (h.grad().defined()) grad.narrow(1, 0, hidden.size(1) - 1).copy_(h.grad().view({hidden.size(0), hidden.size(1) - 1, H}));
    if (before_layers_backward) before_layers_backward();
    hidden.backward(grad);
    return loss_sum;
}

}  // namespace

Batch batch_to_device(const Batch& b, c10::Device device) {
    Batch out = b;
    out.input_ids = to_device(b.input_ids, device);
    out.position_ids = to_device(b.position_ids, device);
    out.sequence_ids = to_device(b.sequence_ids, device);
    const bool mask_says_something = b.attention_mask.defined() && !b.attention_mask.cpu().to(at::kBool).all().item<bool>();
    out.attention_mask = mask_says_something ? to_device(b.attention_mask, device) : at::Tensor();
    return out;
}

at::Tensor forward_backward_on_device(LoadedModel& model, const std::vector<Batch>& micro_batches, int64_t loss_chunk_rows,
                                      int64_t global_label_tokens, const std::function<void()>& before_last_backward) {
    // The default 1024 rows of float32 logits are 600 MB with a 150k vocabulary, where the whole
    // [batch, sequence, vocab] tensor at 8 x 2048 would be 9.8 GB.
    if (loss_chunk_rows <= 0) throw Error("loss chunk must be at least one row");
    if (!model.lm) throw Error("training supports causal language models");
    int64_t total_tokens = 0;
    for (const auto& b : micro_batches) total_tokens += b.label_tokens;
    if (global_label_tokens > 0) total_tokens = global_label_tokens;
    if (total_tokens == 0) throw Error("a training step has no label tokens: every label is -100");

    const c10::Device device = model.lm->device();
    at::Tensor loss = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
    size_t last = micro_batches.size();  // the last micro-batch with a label: the one that runs backward last
    for (size_t i = 0; i < micro_batches.size(); ++i)
        if (micro_batches[i].label_tokens > 0) last = i;
    for (size_t i = 0; i < micro_batches.size(); ++i) {
        const Batch& host = micro_batches[i];
        if (host.label_tokens == 0) continue;
        Batch b = batch_to_device(host, device);
        at::Tensor hidden = model.lm->hidden_states(b.input_ids, b.attention_mask, b.position_ids, nullptr, /*training=*/true, b.sequence_ids);
        loss = loss + chunked_loss_backward(*model.lm, hidden, host.labels, total_tokens, loss_chunk_rows,
                                            i == last ? before_last_backward : std::function<void()>());
    }
    return loss;
}

double forward_backward(LoadedModel& model, const std::vector<Batch>& micro_batches, int64_t loss_chunk_rows) {
    return forward_backward_on_device(model, micro_batches, loss_chunk_rows).item<double>();
}

double evaluation_loss(LoadedModel& model, const std::vector<Example>& rows, int64_t batch_size, int64_t pad_id, int64_t loss_chunk_rows) {
    if (loss_chunk_rows <= 0) throw Error("loss chunk must be at least one row");
    if (!model.lm) throw Error("evaluation supports causal language models");
    at::NoGradGuard no_grad;
    const c10::Device device = model.lm->device();
    at::Tensor sum = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
    int64_t tokens = 0;
    for (size_t start = 0; start < rows.size(); start += static_cast<size_t>(batch_size)) {
        std::vector<Example> chunk(rows.begin() + start, rows.begin() + std::min(rows.size(), start + static_cast<size_t>(batch_size)));
        Batch host = collate(chunk, pad_id);
        if (host.label_tokens == 0) continue;
        Batch b = batch_to_device(host, device);
        at::Tensor hidden = model.lm->hidden_states(b.input_ids, b.attention_mask);
        at::Tensor h = hidden.narrow(1, 0, hidden.size(1) - 1).reshape({-1, hidden.size(-1)});
        LabeledPositions labeled = labeled_positions(host.labels, device);
        const int64_t n = labeled.rows.size(0);
        const bool plain = plain_head(model.lm->lm_head, hidden);
        const int64_t per_call = rows_per_loss_call(plain, n, loss_chunk_rows);
        for (int64_t first = 0; first < n; first += per_call) {
            const int64_t count = std::min(per_call, n - first);
            sum += head_loss(*model.lm, plain, h.index_select(0, labeled.rows.narrow(0, first, count)), labeled.targets.narrow(0, first, count),
                             1.0, loss_chunk_rows)
                       .to(at::kDouble);
        }
        tokens += host.label_tokens;
    }
    return tokens ? sum.item<double>() / static_cast<double>(tokens) : NAN;
}

}  // namespace lathe
