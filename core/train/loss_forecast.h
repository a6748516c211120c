// Forecast of a run's final loss from the losses so far (issue 19). The learning curve is fitted with a
// power law L(x) = l_inf + a * x^-alpha, where x is the step (the default) or the area under the
// learning-rate schedule so far (S1 of "Scaling Law with Learning Rate Annealing", Tissue et al. 2024;
// the schedule is known in advance, so that fit can be carried to the last step too). The 80% band comes from a block
// bootstrap of the residuals, pooled over fits of several windows of the curve (their disagreement is
// the part of the error a single fit cannot see). docs/forecast.md gives the study that chose the axis
// and measured the band. Torch-free (lathe_base): the trainer, the study tool and the tests use it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/train/events.h"
#include "core/train/lr_schedule.h"

namespace lathe {

// L(x) = l_inf + a * x^-alpha, with a >= 0, alpha > 0, l_inf >= 0.
struct PowerLaw {
    double l_inf = 0, a = 0, alpha = 1;
    double at(double x) const;
};

// Least-squares fit of a power law to the points (x > 0): alpha by a grid then a golden-section search,
// l_inf and a in closed form for each alpha. nullopt for fewer than 3 points.
std::optional<PowerLaw> fit_power_law(const std::vector<double>& x, const std::vector<double>& y);

enum class ForecastAxis {
    steps,    // x = the number of optimizer steps done
    lr_area,  // x = the sum of the learning-rate multipliers of the steps done (S1)
};

struct ForecastOptions {
    // The steps axis forecast best in the study (docs/forecast.md): fitted in the schedule's area the law
    // misses the extra fall that annealing the learning rate brings (the S2 term of Tissue et al., which
    // the first 20% of a run cannot pin down), and its band held the truth far less often.
    ForecastAxis axis = ForecastAxis::steps;
    double start_share = 0.2;  // no forecast before this share of the steps is done
    int bootstrap_samples = 200;
    double band = 0.8;  // the central share of the bootstrap distribution the band spans
    // Where the windows fitted begin, as shares of the steps done; their bootstrap fits are pooled, so
    // their disagreement widens the band. The default fits the second half and the last quarter of the
    // curve so far: the early fall (warmup, the first plateau) follows no power law (docs/forecast.md
    // compares choices).
    std::vector<double> window_starts = {0.5, 0.75};
};

// A projected final loss with its band, and the fitted curve's value at the step it was made.
struct Projection {
    double final_loss = 0, low = 0, high = 0;
    double now = 0;
};

// Fits the curve of (step, loss) points and projects it to step lr_multipliers.size(). Steps are
// counted from 1 (the loss reported after the first update is step 1); lr_multipliers[i] is the
// schedule's multiplier of update i (0-based), so the area after step s sums the first s of them.
// nullopt while too few points lie in the window fitted.
std::optional<Projection> project_final_loss(const std::vector<int64_t>& steps, const std::vector<double>& losses,
                                             const std::vector<double>& lr_multipliers, const ForecastOptions& options = {});

// The schedule's multiplier of each of its total_steps updates (lr_multiplier of 0 .. total_steps-1).
std::vector<double> schedule_multipliers(const ScheduleOptions& schedule);

// What a run keeps between steps: every step's loss and every evaluation, the projections of the
// last refresh, which it writes into the step and eval events.
class FinalLossProjector {
public:
    // refresh_every: the steps between refreshes (the run's eval_steps; 0 or less: a twentieth of the run).
    FinalLossProjector(std::vector<double> lr_multipliers, int64_t refresh_every, ForecastOptions options = {});

    // Records the step's loss, refreshes the training projection when one is due, and sets the step
    // event's projected_final_loss/low/high from the latest one (none before start_share of the run).
    void annotate(StepEvent& event);
    // Records the validation loss, refreshes the validation projection (the training curve shifted by
    // the recent gaps between the two) and sets the eval event's projected fields.
    void annotate(EvalEvent& event);
    // A resumed run's earlier losses (from the run store), recorded without refreshing anything.
    void record_step(int64_t step, double loss);
    void record_eval(int64_t step, double eval_loss);

    const std::optional<Projection>& training() const { return training_; }
    const std::optional<Projection>& validation() const { return validation_; }
    // True once the band says the rest of the run gains less than eps: even the band's low end is
    // within eps of the fitted loss now (the validation loss when the run evaluates, else training).
    bool gain_below(double eps) const;
    // The warning a run stopped by gain_below(eps) gives: the gain bound and the projection.
    std::string stop_message(double eps) const;

private:
    void refresh_training();

    std::vector<double> lr_multipliers_;
    int64_t refresh_every_;
    ForecastOptions options_;
    std::vector<int64_t> steps_;
    std::vector<double> losses_;
    std::vector<int64_t> eval_steps_;
    std::vector<double> eval_losses_;
    std::optional<Projection> training_, validation_;
    std::optional<PowerLaw> curve_;  // the central fit of the last refresh, for the validation gap
    std::vector<double> area_after_;  // area_after_[s]: the schedule's area after s steps
    int64_t refreshed_at_ = -1;
};

}  // namespace lathe
