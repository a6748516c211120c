// The run's step plan: how many optimizer steps it takes, where each epoch starts, and what happens
// after each step (evaluate, checkpoint), worked out once from the config before training. A step's
// place follows from its number alone, which is what makes a resumed run see exactly the data and
// the schedule of the uninterrupted one. Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/train/train_config.h"

namespace lathe {

struct StepPlan {
    int64_t units_per_step = 1;             // micro-batch rows of one step, every rank's together
    std::vector<int64_t> epoch_first_step;  // [e]: the first step of epoch e; one more entry: where the last epoch ends
    int64_t total_steps = 0;
    int64_t warmup_steps = 0;               // warmup_steps, or warmup_ratio of total_steps
    int64_t save_every = 0;                 // checkpoint every N steps (0: only at the end)
    int64_t eval_every = 0;                 // evaluate every N steps (0: only at the end)

    // The 0-based epoch that step `step` (0-based: the step about to run) belongs to.
    int64_t epoch_of(int64_t step) const;
    int64_t steps_in_epoch(int64_t epoch) const { return epoch_first_step[epoch + 1] - epoch_first_step[epoch]; }
    // After step `done` (1-based: the steps finished), whether to evaluate or checkpoint before the
    // next one. The last step does both after the loop (a final evaluation and checkpoint), not here.
    bool evaluates_after(int64_t done) const { return eval_every > 0 && done % eval_every == 0 && done < total_steps; }
    bool saves_after(int64_t done) const { return save_every > 0 && done % save_every == 0 && done < total_steps; }
};

// `units_in_epoch(e)`: how many micro-batch rows epoch e holds (rows, or packs with sample_packing;
// they differ by epoch when packing). `world`: data parallel ranks. max_steps replaces num_epochs, as
// in transformers' Trainer: as many epochs (each reshuffled) as it takes.
StepPlan plan_steps(const TrainConfig& c, int world, const std::function<int64_t(int64_t epoch)>& units_in_epoch);

// Axolotl's warmup_ratio for a run of `total_steps`: int(warmup_ratio x total_steps), and 1 becomes 2
// (its _configure_warmup_and_logging); warmup_steps as given otherwise.
int64_t warmup_steps_of(const TrainConfig& c, int64_t total_steps);
// save_steps / eval_steps as an interval: a whole number as given, a fraction (float < 1, or what
// saves_per_epoch / evals_per_epoch turn into) of total_steps rounded up as transformers'
// TrainerState.compute_steps does (math.ceil). 0: only at the end.
int64_t save_interval(const TrainConfig& c, int64_t total_steps);
int64_t eval_interval(const TrainConfig& c, int64_t total_steps);

}  // namespace lathe
