#include "core/train/step_plan.h"

#include <algorithm>
#include <cmath>

namespace lathe {

namespace {

// transformers' TrainerState.compute_steps: a fraction f < 1 of the run is every ceil(max_steps x f) steps.
int64_t interval(int64_t steps, double fraction, int64_t per_epoch, const TrainConfig& c, int64_t total_steps) {
    // Axolotl's normalize_config: N per epoch is the fraction 1 / (N x num_epochs), used only when it
    // is below 1 (one save or evaluation per run is the one at the end).
    if (per_epoch > 0) {
        const double f = 1.0 / static_cast<double>(per_epoch * c.num_epochs);
        if (f < 1.0) fraction = f;
    }
    if (fraction > 0) return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * fraction));
    return steps;
}

}  // namespace

int64_t StepPlan::epoch_of(int64_t step) const {
    return std::upper_bound(epoch_first_step.begin(), epoch_first_step.end(), step) - epoch_first_step.begin() - 1;
}

int64_t warmup_steps_of(const TrainConfig& c, int64_t total_steps) {
    if (c.warmup_ratio <= 0) return c.warmup_steps;
    const int64_t steps = std::max<int64_t>(static_cast<int64_t>(c.warmup_ratio * static_cast<double>(total_steps)), 0);
    return steps == 1 ? 2 : steps;
}

int64_t save_interval(const TrainConfig& c, int64_t total_steps) {
    return interval(c.save_steps, c.save_steps_fraction, c.saves_per_epoch, c, total_steps);
}

int64_t eval_interval(const TrainConfig& c, int64_t total_steps) {
    return interval(c.eval_steps, c.eval_steps_fraction, c.evals_per_epoch, c, total_steps);
}

StepPlan plan_steps(const TrainConfig& c, int world, const std::function<int64_t(int64_t epoch)>& units_in_epoch) {
    StepPlan plan;
    plan.units_per_step = c.micro_batch_size * c.gradient_accumulation_steps * world;
    plan.epoch_first_step = {0};
    for (int64_t e = 0; c.max_steps > 0 ? plan.epoch_first_step.back() < c.max_steps : e < c.num_epochs; ++e) {
        const int64_t units = units_in_epoch(e);
        plan.epoch_first_step.push_back(plan.epoch_first_step.back() + (units + plan.units_per_step - 1) / plan.units_per_step);
    }
    plan.total_steps = c.max_steps > 0 ? c.max_steps : plan.epoch_first_step.back();
    plan.warmup_steps = warmup_steps_of(c, plan.total_steps);
    plan.save_every = save_interval(c, plan.total_steps);
    plan.eval_every = eval_interval(c, plan.total_steps);
    return plan;
}

}  // namespace lathe
