// One optimizer step of preference tuning: the chosen and rejected sequences of a micro-batch's pairs run
// as one concatenated batch (chosen rows first, as TRL's collators lay them out), their completions'
// log-probabilities feed the method's loss (preference_loss.h), and the backward pass runs the output layer
// in chunks of positions, so [batch, sequence, vocab] logits are never held whole.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "core/data/preference.h"
#include "core/models/loader.h"
#include "core/train/batch.h"
#include "core/train/preference_loss.h"

namespace lathe {

// Pairs as one batch: rows 0..B-1 the chosen sequences, B..2B-1 the rejected ones, right-padded with
// `pad_id`; labels are the completion tokens (-100 on prompts and padding).
Batch collate_pairs(const std::vector<const data::PreferencePair*>& pairs, int64_t pad_id);

// Switches the model's LoRA adapters off while it lives: the model is then its base, LoRA-DPO's reference.
class AdaptersOff {
public:
    explicit AdaptersOff(LoadedModel& model);
    ~AdaptersOff();
    AdaptersOff(const AdaptersOff&) = delete;
    AdaptersOff& operator=(const AdaptersOff&) = delete;

private:
    std::vector<std::pair<Linear*, std::optional<LoraWeights>>> stashed_;
};

// Completion log-probability sums of every row of a collated pair batch ([2B] float32 on the model's
// device), without gradients: the reference model's numbers.
at::Tensor completion_log_probs(LoadedModel& model, const Batch& pairs, int64_t chunk_rows = 1024);

// Forward and backward of one micro-batch. `reference` holds the reference sums [2B] (DPO; undefined
// otherwise). The loss is divided by `accumulation` (the step's micro-batches) before its backward, as
// transformers' Trainer does for these losses. Returns the undivided loss (float64 scalar) and metrics.
PreferenceLoss preference_forward_backward(LoadedModel& model, const Batch& pairs, const at::Tensor& reference,
                                           const PreferenceOptions& options, int64_t accumulation, int64_t chunk_rows = 1024);

// The same loss and metrics without gradients (evaluation): the model as it is, dropout off.
PreferenceLoss preference_evaluate(LoadedModel& model, const Batch& pairs, const at::Tensor& reference, const PreferenceOptions& options,
                                   int64_t chunk_rows = 1024);

}  // namespace lathe
