// The preference losses as TRL 1.16 computes them, from per-sequence log-probabilities of a batch of pairs:
// DPO (DPOTrainer: sigmoid, IPO, robust), ORPO (ORPOTrainer) and SimPO (CPOTrainer, loss_type simpo).
#pragma once

#include <ATen/core/Tensor.h>

#include "core/data/preference.h"
#include "core/train/train_config.h"

namespace lathe {

enum class PreferenceMethod { dpo, orpo, simpo };
enum class DpoLoss { sigmoid, ipo, robust };

struct PreferenceOptions {
    PreferenceMethod method = PreferenceMethod::dpo;
    DpoLoss loss = DpoLoss::sigmoid;
    double beta = 0.1;             // dpo, ipo, simpo: dpo_beta; orpo: orpo_alpha (TRL's ORPO calls it beta)
    double label_smoothing = 0.0;  // robust DPO, SimPO
    double simpo_gamma = 0.5;
    double cpo_alpha = 1.0;        // SimPO: weight of the chosen completions' NLL
};

// The options a run's rl keys ask for (the config is validated already).
PreferenceOptions preference_options(const TrainConfig& c);
// DPO compares with a reference model; ORPO and SimPO do not.
inline bool uses_reference(const PreferenceOptions& o) { return o.method == PreferenceMethod::dpo; }
// Which TRL pipeline tokenizes the method's rows.
data::PreferenceTokenization preference_tokenization(const PreferenceOptions& o);

// Per-sequence numbers of one micro-batch of B pairs, float32 on the device. Sums run over completion tokens.
struct PairLogProbs {
    at::Tensor chosen_sum, rejected_sum;          // [B], differentiable
    at::Tensor chosen_tokens, rejected_tokens;    // [B] completion token counts (float32)
    at::Tensor ref_chosen_sum, ref_rejected_sum;  // [B], DPO only
    at::Tensor nll;                               // scalar: ORPO, the chosen sequences' mean NLL over every token; SimPO, over
                                                  // the chosen completions; undefined for DPO
};

// The names TRL logs, in the order of `metrics` below.
inline constexpr const char* kPreferenceMetricNames[] = {"rewards/chosen", "rewards/rejected", "rewards/margins",
                                                         "rewards/accuracies", "logps/chosen", "logps/rejected"};

struct PreferenceLoss {
    at::Tensor loss;     // scalar, differentiable
    at::Tensor metrics;  // [6] float64, detached: kPreferenceMetricNames, each a mean over the batch's pairs
};

PreferenceLoss preference_loss(const PairLogProbs& p, const PreferenceOptions& o);

}  // namespace lathe
