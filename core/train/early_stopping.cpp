#include "core/train/early_stopping.h"

namespace lathe {

bool EarlyStopping::observe(double eval_loss) {
    if (eval_loss < best_loss_) {
        best_loss_ = eval_loss;
        evals_without_improvement_ = 0;
    } else {
        ++evals_without_improvement_;
    }
    return patience_ > 0 && evals_without_improvement_ >= patience_;
}

}  // namespace lathe
