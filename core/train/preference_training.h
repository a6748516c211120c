// Preference tuning inside `lathe train` (rl: dpo, ipo, orpo, simpo): the trainer's hooks. It owns the
// tokenized pairs (training and validation), the reference log-probabilities (computed once before training
// for full finetuning or precompute_ref_log_probs; otherwise LoRA-DPO's reference is the same model with its
// adapters switched off, each step), each step's loss and TRL's metrics, and the evaluation TRL's
// trainer.evaluate() does. Everything else (optimizer, schedule, checkpoints, resume, events) is the
// trainer's, as for supervised runs.
#pragma once

#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/data/preference.h"
#include "core/models/loader.h"
#include "core/runs/run_reader.h"
#include "core/train/batch.h"
#include "core/train/events.h"
#include "core/train/preference_loss.h"
#include "core/train/train_config.h"

namespace lathe {

class GradientSync;

// What TRL's evaluate() reports for a preference trainer.
struct PreferenceEvaluation {
    double loss = 0;  // eval_loss: each batch's loss weighted by its pairs (transformers' evaluation loop)
    PreferenceMetrics metrics;  // eval_rewards/..., eval_logps/...: the mean of the batches' means (TRL's log)
};

// The run-store metrics of preference numbers at `step`: TRL's names, after `prefix` ("" for a training
// step, "eval_" for an evaluation).
std::vector<MetricPoint> preference_metric_points(int64_t step, const PreferenceMetrics& m, const std::string& prefix);

class PreferenceTraining {
public:
    // Reads and tokenizes every dataset of the run (mixed by weight as for SFT), and the validation pairs:
    // test_datasets, or val_set_size of the pairs held out as supervised runs hold rows out. Rows that cannot
    // be used become `warnings` (strict: the first one throws lathe::Error naming file and line); each
    // dataset's description goes to `fingerprints`. Throws when no pair is usable.
    PreferenceTraining(const TrainConfig& config, std::vector<WarningEvent>& warnings, nlohmann::json& fingerprints);

    size_t pairs() const { return train_.pairs.size(); }
    size_t validation_pairs() const { return validation_.pairs.size(); }

    // Called once the model is loaded, before an adapter or a resumed run's weights are applied, so the model
    // is the base: turns dropout off (as TRL's trainers do) and, when they are precomputed, reads the reference
    // log-probabilities of every pair, training and validation, from the dataset cache or computes (and caches)
    // them; their cache file and whether it was reused go to `fingerprints`.
    void prepare(LoadedModel& model, int64_t batch_size, int64_t pad_id, nlohmann::json& fingerprints);

    // The micro-batch of these training pairs (chosen rows, then rejected).
    Batch micro_batch(const std::vector<size_t>& pair_indices, int64_t pad_id) const;

    // Forward and backward over this rank's micro-batches of a step (`groups` holds each one's pair indices);
    // `step_micro_batches` counts the step's micro-batches on every rank together, which the loss and the
    // metrics are averaged over (the gradient is then what transformers' Trainer gets under DDP: each rank's
    // loss divided by the accumulation steps, averaged over the ranks). Returns this rank's share of the
    // step's loss (float64 on the device) and keeps its metrics for read_metrics, without waiting for the device.
    at::Tensor forward_backward(LoadedModel& model, const std::vector<Batch>& micro, const std::vector<std::vector<size_t>>& groups,
                                int64_t step_micro_batches);
    // Data parallel runs: finishes the step's gradient sync with the loss and the metrics summed over the
    // ranks beside it (one collective); returns the step's loss.
    at::Tensor sum_over_ranks(GradientSync& sync, const at::Tensor& loss);
    // The last step's metrics (one read from the device).
    PreferenceMetrics read_metrics() const;

    // The validation pairs' loss and metrics, in batches of `batch_size` in file order, with the model as it is.
    PreferenceEvaluation evaluate(LoadedModel& model, int64_t batch_size, int64_t pad_id) const;

private:
    // Pairs and, when precomputed, their reference log-probability sums.
    struct PairSet {
        std::vector<data::PreferencePair> pairs;
        std::vector<float> reference_chosen, reference_rejected;  // per pair; empty when not precomputed
    };
    static Batch collate(const PairSet& set, const std::vector<size_t>& pair_indices, int64_t pad_id);
    at::Tensor reference_of(LoadedModel& model, const PairSet& set, const std::vector<size_t>& group, const Batch& batch) const;
    void precompute_reference(LoadedModel& model, PairSet& set, int64_t batch_size, int64_t pad_id);

    TrainConfig config_;
    PreferenceOptions options_;
    PairSet train_, validation_;
    std::vector<std::string> pair_keys_;  // every dataset entry's cache key, training then validation
    at::Tensor metrics_;
};

}  // namespace lathe
