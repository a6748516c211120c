// Early stopping (early_stopping_patience): counts evaluations whose loss is not below the best so
// far, and says when there have been `patience` of them in a row. Its two numbers travel in
// checkpoints (TrainState), so a resumed run keeps counting where it stopped. Torch-free.
#pragma once

#include <cmath>
#include <cstdint>

namespace lathe {

class EarlyStopping {
public:
    // patience 0: never stops (the evaluations are still counted, for the checkpoint).
    explicit EarlyStopping(int64_t patience, double best_loss = INFINITY, int64_t evals_without_improvement = 0)
        : patience_(patience), best_loss_(best_loss), evals_without_improvement_(evals_without_improvement) {}

    // Takes one evaluation's loss; true when training should stop now.
    bool observe(double eval_loss);

    double best_loss() const { return best_loss_; }
    int64_t evals_without_improvement() const { return evals_without_improvement_; }

private:
    int64_t patience_;
    double best_loss_;
    int64_t evals_without_improvement_;
};

}  // namespace lathe
