// Learning-rate schedules, as transformers' get_scheduler computes them (optimization.py): a
// multiplier of the peak learning rate for each optimizer step.
#pragma once

#include <cstdint>
#include <string>

namespace lathe {

struct ScheduleOptions {
    std::string kind = "cosine";  // constant, constant_with_warmup, linear, cosine, cosine_with_min_lr, warmup_stable_decay
    int64_t warmup_steps = 0;
    int64_t total_steps = 0;
    double min_lr_ratio = 0.0;    // cosine and cosine_with_min_lr (Axolotl's cosine_min_lr_ratio): floor as a share of the peak
    double decay_ratio = 0.1;     // warmup_stable_decay: share of the steps spent decaying at the end

    void validate() const;  // throws lathe::Error naming the option
};

// The multiplier for the learning rate of optimizer step `step` (0-based: the first update uses
// step 0), as transformers' LambdaLR gives it.
double lr_multiplier(const ScheduleOptions& options, int64_t step);

}  // namespace lathe
