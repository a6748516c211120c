#include "core/train/preference_step.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/full.h>
#include <ATen/ops/gather.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

#include <algorithm>
#include <utility>

#include "core/models/decoder_lm.h"
#include "core/train/train_step.h"
#include "core/util/error.h"

namespace lathe {

namespace {

template <typename T>
at::Tensor host_tensor(const std::vector<T>& v, at::ScalarType type) {
    return at::from_blob(const_cast<T*>(v.data()), {static_cast<int64_t>(v.size())}, at::TensorOptions().dtype(type)).clone();
}

// The positions of a pair batch whose next token is scored, found on the host: flattened [2B * (T-1)]
// indices (position t predicts token t+1), their targets, their rows, and what each counts for.
struct ScoredPositions {
    at::Tensor flat, targets, rows;  // int64 [n], on the device
    at::Tensor completion;           // float32 [n]: 1 where the target is a completion token
    at::Tensor chosen_everything;    // float32 [n]: 1 where the target is any real token of a chosen row (ORPO's NLL)
    at::Tensor completion_tokens;    // float32 [2B]
    double chosen_completion_tokens = 0, chosen_tokens = 0;
};

ScoredPositions scored_positions(const Batch& host, bool whole_chosen_rows, c10::Device device) {
    at::Tensor ids = host.input_ids.cpu().contiguous(), labels = host.labels.cpu().contiguous();
    at::Tensor mask = host.attention_mask.defined() ? host.attention_mask.cpu().contiguous() : at::ones_like(ids);
    const int64_t rows = ids.size(0), T = ids.size(1), pairs = rows / 2;
    const int64_t* id = ids.data_ptr<int64_t>();
    const int64_t* label = labels.data_ptr<int64_t>();
    const int64_t* m = mask.data_ptr<int64_t>();
    std::vector<int64_t> flat, targets, row_of;
    std::vector<float> completion, everything, counts(static_cast<size_t>(rows), 0.f);
    ScoredPositions s;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t t = 0; t + 1 < T; ++t) {
            const int64_t next = r * T + t + 1;
            const bool in_completion = label[next] != -100;
            const bool whole = whole_chosen_rows && r < pairs && m[next] == 1;
            if (!in_completion && !whole) continue;
            flat.push_back(r * (T - 1) + t);
            targets.push_back(id[next]);
            row_of.push_back(r);
            completion.push_back(in_completion ? 1.f : 0.f);
            everything.push_back(whole ? 1.f : 0.f);
            counts[static_cast<size_t>(r)] += in_completion;
            if (r < pairs) {
                s.chosen_completion_tokens += in_completion;
                s.chosen_tokens += whole;
            }
        }
    auto on = [&](at::Tensor t) { return t.to(device); };
    s.flat = on(host_tensor(flat, at::kLong));
    s.targets = on(host_tensor(targets, at::kLong));
    s.rows = on(host_tensor(row_of, at::kLong));
    s.completion = on(host_tensor(completion, at::kFloat));
    s.chosen_everything = on(host_tensor(everything, at::kFloat));
    s.completion_tokens = on(host_tensor(counts, at::kFloat));
    return s;
}

// log p(target) at each scored position, chunk by chunk through the output layer (float32).
at::Tensor token_log_probs(const DecoderLM& lm, const at::Tensor& h, const ScoredPositions& s, int64_t start, int64_t count) {
    at::Tensor logits = lm.logits(h.index_select(0, s.flat.narrow(0, start, count))).to(at::kFloat);
    return at::log_softmax(logits, -1).gather(1, s.targets.narrow(0, start, count).unsqueeze(1)).squeeze(1);
}

at::Tensor all_token_log_probs(const DecoderLM& lm, const at::Tensor& h, const ScoredPositions& s, int64_t chunk_rows) {
    const int64_t n = s.flat.size(0);
    std::vector<at::Tensor> parts;
    for (int64_t start = 0; start < n; start += chunk_rows) parts.push_back(token_log_probs(lm, h, s, start, std::min(chunk_rows, n - start)));
    return parts.empty() ? at::zeros({0}, h.options().dtype(at::kFloat)) : at::cat(parts);
}

at::Tensor completion_sums(const at::Tensor& token_logps, const ScoredPositions& s, int64_t rows) {
    return at::zeros({rows}, token_logps.options()).index_add(0, s.rows, token_logps * s.completion);
}

// The method's loss and metrics from every scored token's log-probability (differentiable in token_logps).
PreferenceLoss loss_of_tokens(const at::Tensor& token_logps, const ScoredPositions& s, int64_t rows, const at::Tensor& reference,
                              const PreferenceOptions& options, c10::Device device) {
    const int64_t pairs = rows / 2;
    at::Tensor sums = completion_sums(token_logps, s, rows);
    PairLogProbs p;
    p.chosen_sum = sums.narrow(0, 0, pairs);
    p.rejected_sum = sums.narrow(0, pairs, pairs);
    p.chosen_tokens = s.completion_tokens.narrow(0, 0, pairs);
    p.rejected_tokens = s.completion_tokens.narrow(0, pairs, pairs);
    if (reference.defined()) {
        p.ref_chosen_sum = reference.narrow(0, 0, pairs).to(device);
        p.ref_rejected_sum = reference.narrow(0, pairs, pairs).to(device);
    }
    if (options.method == PreferenceMethod::orpo) {
        p.nll = -(token_logps * s.chosen_everything).sum() / s.chosen_tokens;
    } else if (options.method == PreferenceMethod::simpo) {
        at::Tensor chosen_rows = s.rows.lt(pairs).to(at::kFloat);
        p.nll = -(token_logps * s.completion * chosen_rows).sum() / s.chosen_completion_tokens;
    }
    return preference_loss(p, options);
}

}  // namespace

Batch collate_pairs(const std::vector<const data::PreferencePair*>& pairs, int64_t pad_id) {
    if (pairs.empty()) throw Error("a preference batch needs at least one pair");
    std::vector<const data::PreferenceSequence*> seqs;
    for (const auto* p : pairs) seqs.push_back(&p->chosen);
    for (const auto* p : pairs) seqs.push_back(&p->rejected);
    size_t T = 0;
    for (const auto* s : seqs) T = std::max(T, s->ids.size());
    const int64_t rows = static_cast<int64_t>(seqs.size());
    Batch b;
    b.input_ids = at::full({rows, static_cast<int64_t>(T)}, pad_id, at::kLong);
    b.labels = at::full({rows, static_cast<int64_t>(T)}, -100, at::kLong);
    b.attention_mask = at::zeros({rows, static_cast<int64_t>(T)}, at::kLong);
    int64_t* ids = b.input_ids.data_ptr<int64_t>();
    int64_t* labels = b.labels.data_ptr<int64_t>();
    int64_t* mask = b.attention_mask.data_ptr<int64_t>();
    for (int64_t r = 0; r < rows; ++r) {
        const auto& s = *seqs[static_cast<size_t>(r)];
        for (size_t t = 0; t < s.ids.size(); ++t) {
            ids[r * T + t] = s.ids[t];
            mask[r * T + t] = 1;
            if (static_cast<int64_t>(t) >= s.prompt_tokens) labels[r * T + t] = s.ids[t];
        }
        if (s.prompt_tokens > 0) b.label_tokens += s.completion_tokens();
        else b.label_tokens += s.completion_tokens() - 1;  // the first token is predicted from nothing
    }
    return b;
}

AdaptersOff::AdaptersOff(LoadedModel& model) {
    for (Linear* l : model.lm->linears())
        if (l->lora) {
            stashed_.emplace_back(l, std::move(l->lora));
            l->lora.reset();
        }
}

AdaptersOff::~AdaptersOff() {
    for (auto& [layer, lora] : stashed_) layer->lora = std::move(lora);
}

namespace {

// The batch's scored positions and every scored token's log-probability, without gradients: the
// reference's log-probabilities and evaluation.
std::pair<ScoredPositions, at::Tensor> scored_log_probs(LoadedModel& model, const Batch& host, bool whole_chosen_rows, int64_t chunk_rows) {
    if (!model.lm) throw Error("preference tuning supports causal language models");
    at::NoGradGuard no_grad;
    const c10::Device device = model.lm->device();
    Batch b = batch_to_device(host, device);
    at::Tensor hidden = model.lm->hidden_states(b.input_ids, b.attention_mask);
    at::Tensor h = hidden.narrow(1, 0, hidden.size(1) - 1).reshape({-1, hidden.size(-1)});
    ScoredPositions s = scored_positions(host, whole_chosen_rows, device);
    at::Tensor token_logps = all_token_log_probs(*model.lm, h, s, chunk_rows);
    return {std::move(s), std::move(token_logps)};
}

}  // namespace

at::Tensor completion_log_probs(LoadedModel& model, const Batch& host, int64_t chunk_rows) {
    auto [s, token_logps] = scored_log_probs(model, host, false, chunk_rows);
    return completion_sums(token_logps, s, host.input_ids.size(0));
}

PreferenceLoss preference_forward_backward(LoadedModel& model, const Batch& host, const at::Tensor& reference,
                                           const PreferenceOptions& options, int64_t accumulation, int64_t chunk_rows) {
    if (!model.lm) throw Error("preference tuning supports causal language models");
    if (chunk_rows <= 0) throw Error("loss chunk must be at least one row");
    const c10::Device device = model.lm->device();
    const int64_t rows = host.input_ids.size(0);
    Batch b = batch_to_device(host, device);
    at::Tensor hidden = model.lm->hidden_states(b.input_ids, b.attention_mask, b.position_ids, nullptr, /*training=*/true, b.sequence_ids);
    const int64_t H = hidden.size(-1);
    at::Tensor h = hidden.detach().narrow(1, 0, hidden.size(1) - 1).reshape({-1, H}).requires_grad_(true);
    ScoredPositions s = scored_positions(host, options.method == PreferenceMethod::orpo, device);

    // The loss is not a sum over tokens, so the output layer runs twice: once without gradients for every
    // token's log-probability, and again chunk by chunk with the loss's gradient for each token.
    at::Tensor token_logps;
    {
        at::NoGradGuard no_grad;
        token_logps = all_token_log_probs(*model.lm, h, s, chunk_rows);
    }
    token_logps.requires_grad_(true);
    PreferenceLoss result = loss_of_tokens(token_logps, s, rows, reference, options, device);
    (result.loss / static_cast<double>(accumulation)).backward();

    at::Tensor weights = token_logps.grad();
    const int64_t n = s.flat.size(0);
    for (int64_t start = 0; start < n; start += chunk_rows) {
        const int64_t count = std::min(chunk_rows, n - start);
        (token_log_probs(*model.lm, h, s, start, count) * weights.narrow(0, start, count)).sum().backward();
    }
    at::Tensor grad = at::zeros_like(hidden);
    if (h.grad().defined()) grad.narrow(1, 0, hidden.size(1) - 1).copy_(h.grad().view({hidden.size(0), hidden.size(1) - 1, H}));
    hidden.backward(grad);
    result.loss = result.loss.detach().to(at::kDouble);
    return result;
}

PreferenceLoss preference_evaluate(LoadedModel& model, const Batch& host, const at::Tensor& reference, const PreferenceOptions& options,
                                   int64_t chunk_rows) {
    auto [s, token_logps] = scored_log_probs(model, host, options.method == PreferenceMethod::orpo, chunk_rows);
    at::NoGradGuard no_grad;
    PreferenceLoss result = loss_of_tokens(token_logps, s, host.input_ids.size(0), reference, options, model.lm->device());
    result.loss = result.loss.to(at::kDouble);
    return result;
}

}  // namespace lathe
