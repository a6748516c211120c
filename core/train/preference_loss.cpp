#include "core/train/preference_loss.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/clamp_min.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/expm1.h>
#include <ATen/ops/log.h>
#include <ATen/ops/log1p.h>
#include <ATen/ops/log_sigmoid.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/where.h>

#include <cmath>

namespace lathe {

PreferenceOptions preference_options(const TrainConfig& c) {
    PreferenceOptions o;
    if (c.rl == "orpo") {
        o.method = PreferenceMethod::orpo;
        o.beta = c.orpo_alpha;
    } else if (c.rl == "simpo") {
        o.method = PreferenceMethod::simpo;
        o.beta = c.dpo_beta;
    } else {
        o.method = PreferenceMethod::dpo;
        o.beta = c.dpo_beta;
        const std::string& loss = !c.dpo_loss_type.empty() ? c.dpo_loss_type : c.rl == "ipo" ? "ipo" : "sigmoid";
        o.loss = loss == "ipo" ? DpoLoss::ipo : loss == "robust" ? DpoLoss::robust : DpoLoss::sigmoid;
    }
    o.label_smoothing = c.dpo_label_smoothing;
    o.simpo_gamma = c.simpo_gamma;
    o.cpo_alpha = c.cpo_alpha;
    return o;
}

data::PreferenceTokenization preference_tokenization(const PreferenceOptions& o) {
    return o.method == PreferenceMethod::dpo ? data::PreferenceTokenization::dpo : data::PreferenceTokenization::orpo_cpo;
}

namespace {

// log(1 - exp(x)) for x < 0, as TRL's ORPO computes it (branching at -ln 2 to avoid cancellation).
at::Tensor log1mexp(const at::Tensor& x) {
    return at::where(x.lt(-0.6931471805599453), at::log1p(-at::exp(x)), at::log(-at::expm1(x)));
}

at::Tensor metrics_of(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards, const at::Tensor& chosen_logps,
                      const at::Tensor& rejected_logps) {
    at::Tensor c = chosen_rewards.detach(), r = rejected_rewards.detach();
    return at::stack({c.mean(), r.mean(), (c - r).mean(), c.gt(r).to(c.scalar_type()).mean(), chosen_logps.detach().mean(),
                      rejected_logps.detach().mean()})
        .to(at::kDouble);
}

}  // namespace

PreferenceLoss preference_loss(const PairLogProbs& p, const PreferenceOptions& o) {
    const double beta = o.beta, eps = o.label_smoothing;
    switch (o.method) {
        case PreferenceMethod::dpo: {
            at::Tensor chosen_logratios = p.chosen_sum - p.ref_chosen_sum;
            at::Tensor rejected_logratios = p.rejected_sum - p.ref_rejected_sum;
            at::Tensor delta = chosen_logratios - rejected_logratios;
            at::Tensor per_pair;
            if (o.loss == DpoLoss::sigmoid) {
                per_pair = -at::log_sigmoid(beta * delta);
            } else if (o.loss == DpoLoss::ipo) {
                // TRL normalises IPO's log-ratios by the completion lengths.
                at::Tensor ipo_delta = chosen_logratios / p.chosen_tokens.clamp_min(1.0) - rejected_logratios / p.rejected_tokens.clamp_min(1.0);
                per_pair = (ipo_delta - 1 / (2 * beta)).pow(2);
            } else {  // robust: the preference label flipped with probability label_smoothing
                per_pair = (-(1 - eps) * at::log_sigmoid(beta * delta) + eps * at::log_sigmoid(-beta * delta)) / (1 - 2 * eps);
            }
            return {per_pair.mean(), metrics_of(beta * chosen_logratios, beta * rejected_logratios, p.chosen_sum, p.rejected_sum)};
        }
        case PreferenceMethod::orpo: {
            at::Tensor chosen = p.chosen_sum / p.chosen_tokens, rejected = p.rejected_sum / p.rejected_tokens;  // mean per token
            at::Tensor log_odds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected));
            at::Tensor loss = p.nll - beta * at::log_sigmoid(log_odds).mean();
            return {loss, metrics_of(beta * chosen, beta * rejected, chosen, rejected)};
        }
        case PreferenceMethod::simpo: {
            at::Tensor chosen = p.chosen_sum / p.chosen_tokens, rejected = p.rejected_sum / p.rejected_tokens;
            at::Tensor logits = (chosen - rejected) - o.simpo_gamma / beta;
            at::Tensor per_pair = -at::log_sigmoid(beta * logits) * (1 - eps) - at::log_sigmoid(-beta * logits) * eps;
            at::Tensor loss = per_pair.mean();
            if (o.cpo_alpha != 0) loss = loss + o.cpo_alpha * p.nll;
            return {loss, metrics_of(beta * chosen, beta * rejected, chosen, rejected)};
        }
    }
    return {};
}

}  // namespace lathe
