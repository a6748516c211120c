// Preference tuning inside `lathe train` (rl: dpo, ipo, orpo, simpo): the trainer's hooks. It owns the
// tokenized pairs, the reference log-probabilities (computed once before training for full finetuning or
// precompute_ref_log_probs; otherwise LoRA-DPO's reference is the same model with its adapters switched off,
// each step), and each step's loss and TRL's metrics. Everything else (optimizer, schedule, checkpoints,
// resume, events) is the trainer's, as for supervised runs.
#pragma once

#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/data/preference.h"
#include "core/models/loader.h"
#include "core/train/batch.h"
#include "core/train/events.h"
#include "core/train/preference_loss.h"
#include "core/train/train_config.h"

namespace lathe {

class PreferenceTraining {
public:
    // Reads and tokenizes every dataset of the run (mixed by weight as for SFT). Rows that cannot be used
    // become `warnings` (strict: the first one throws lathe::Error naming file and line); each dataset's
    // description goes to `fingerprints`. Throws when no pair is usable.
    PreferenceTraining(const TrainConfig& config, std::vector<WarningEvent>& warnings, nlohmann::json& fingerprints);

    size_t pairs() const { return pairs_.size(); }

    // Called once the model is loaded, before an adapter or a resumed run's weights are applied, so the model
    // is the base: turns dropout off (as TRL's trainers do) and computes the reference log-probabilities of
    // every pair when they are precomputed.
    void prepare(LoadedModel& model, int64_t batch_size, int64_t pad_id);

    // The micro-batch of these pairs (chosen rows, then rejected).
    Batch micro_batch(const std::vector<size_t>& pair_indices, int64_t pad_id) const;

    // Forward and backward over a step's micro-batches (`groups` holds each one's pair indices). Returns the
    // step's loss (the mean over micro-batches, float64 on the device) and keeps its metrics for
    // read_metrics, without waiting for the device.
    at::Tensor forward_backward(LoadedModel& model, const std::vector<Batch>& micro, const std::vector<std::vector<size_t>>& groups);
    // The last step's metrics (one read from the device).
    PreferenceMetrics read_metrics() const;

private:
    TrainConfig config_;
    PreferenceOptions options_;
    std::vector<data::PreferencePair> pairs_;
    std::vector<float> reference_chosen_, reference_rejected_;  // precomputed, per pair; empty otherwise
    at::Tensor metrics_;
};

}  // namespace lathe
