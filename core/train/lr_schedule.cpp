#include "core/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/util/error.h"

namespace lathe {

void ScheduleOptions::validate() const {
    static const char* kinds[] = {"constant", "constant_with_warmup", "linear", "cosine", "cosine_with_min_lr", "warmup_stable_decay"};
    if (std::none_of(std::begin(kinds), std::end(kinds), [&](const char* k) { return kind == k; }))
        throw Error("lr_scheduler '" + kind + "' is not supported (use constant, constant_with_warmup, linear, cosine, cosine_with_min_lr or warmup_stable_decay)");
    if (warmup_steps < 0) throw Error("warmup_steps must be >= 0");
    if (!(min_lr_ratio >= 0 && min_lr_ratio <= 1)) throw Error("cosine_min_lr_ratio must be in [0, 1]");
    if (!(decay_ratio >= 0 && decay_ratio <= 1)) throw Error("decay ratio must be in [0, 1]");
}

double lr_multiplier(const ScheduleOptions& o, int64_t step) {
    // Step numbers as transformers' LambdaLR sees them: the k-th update uses current_step = k.
    const double s = static_cast<double>(step), warmup = static_cast<double>(o.warmup_steps);
    const double total = static_cast<double>(std::max<int64_t>(o.total_steps, 1));
    if (o.kind == "constant") return 1.0;
    if (o.kind == "warmup_stable_decay") {
        // transformers' get_wsd_schedule with linear warmup and cosine decay: warm up from
        // min_lr_ratio, hold, decay over the last decay_ratio of the steps, then stay at the floor.
        const double decay_steps = std::floor(total * o.decay_ratio);
        const double stable_end = total - decay_steps;
        if (step < o.warmup_steps) return std::max(0.0, s / std::max(1.0, warmup) * (1.0 - o.min_lr_ratio) + o.min_lr_ratio);
        if (s < stable_end) return 1.0;
        if (s < total) {
            double progress = (s - stable_end) / std::max(1.0, decay_steps);
            double value = 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress));
            return std::max(0.0, value * (1.0 - o.min_lr_ratio) + o.min_lr_ratio);
        }
        return o.min_lr_ratio;
    }
    if (step < o.warmup_steps) return s / std::max(1.0, warmup);  // also how a continued pretraining run re-warms
    if (o.kind == "constant_with_warmup") return 1.0;
    if (o.kind == "linear") return std::max(0.0, (total - s) / std::max(1.0, total - warmup));
    double progress = (s - warmup) / std::max(1.0, total - warmup);
    double cosine = std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
    // cosine_with_min_lr, and `cosine` with a floor: Axolotl applies cosine_min_lr_ratio to `cosine` through
    // its get_cosine_schedule_with_min_lr, the same formula. A ratio of 0 is transformers' plain cosine.
    if (o.kind == "cosine" && o.min_lr_ratio == 0) return cosine;
    return std::max(0.0, cosine * (1.0 - o.min_lr_ratio) + o.min_lr_ratio);
}

}  // namespace lathe
