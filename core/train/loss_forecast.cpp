#include "core/train/loss_forecast.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace lathe {

double PowerLaw::at(double x) const { return l_inf + a * std::pow(x, -alpha); }

namespace {

struct Candidate {
    PowerLaw law;
    double sse = INFINITY;
};

// For a fixed alpha the law is linear in (l_inf, a): least squares in closed form, held to a >= 0 and
// l_inf >= 0 (a loss does not rise with training in this model, nor fall below zero). u = x / x_ref keeps
// u^-alpha near 1 whatever the scale of x.
Candidate fit_for_alpha(const std::vector<double>& u, const std::vector<double>& y, double alpha) {
    const size_t n = u.size();
    std::vector<double> z(n);
    double zm = 0, ym = 0;
    for (size_t i = 0; i < n; ++i) {
        z[i] = std::pow(u[i], -alpha);
        zm += z[i];
        ym += y[i];
    }
    zm /= n;
    ym /= n;
    double szz = 0, szy = 0;
    for (size_t i = 0; i < n; ++i) {
        szz += (z[i] - zm) * (z[i] - zm);
        szy += (z[i] - zm) * (y[i] - ym);
    }
    double a = szz > 0 ? szy / szz : 0, l_inf = ym - a * zm;
    if (a < 0) {
        a = 0;
        l_inf = ym;
    }
    if (l_inf < 0) {
        double zz = 0, zy = 0;
        for (size_t i = 0; i < n; ++i) {
            zz += z[i] * z[i];
            zy += z[i] * y[i];
        }
        l_inf = 0;
        a = zz > 0 ? std::max(0.0, zy / zz) : 0;
    }
    double sse = 0;
    for (size_t i = 0; i < n; ++i) sse += (y[i] - l_inf - a * z[i]) * (y[i] - l_inf - a * z[i]);
    return {{l_inf, a, alpha}, sse};
}

}  // namespace

std::optional<PowerLaw> fit_power_law(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() < 3 || x.size() != y.size()) return std::nullopt;
    const double x_ref = *std::max_element(x.begin(), x.end());
    if (!(x_ref > 0)) return std::nullopt;
    std::vector<double> u(x.size());
    for (size_t i = 0; i < x.size(); ++i) u[i] = x[i] / x_ref;
    // alpha from 0.01 to 4 on a log grid, then a golden-section search around the best grid point.
    constexpr int grid = 48;
    const double lo = std::log(0.01), hi = std::log(4.0), h = (hi - lo) / (grid - 1);
    Candidate best;
    int best_i = 0;
    for (int i = 0; i < grid; ++i) {
        Candidate c = fit_for_alpha(u, y, std::exp(lo + h * i));
        if (c.sse < best.sse) {
            best = c;
            best_i = i;
        }
    }
    double left = lo + h * std::max(0, best_i - 1), right = lo + h * std::min(grid - 1, best_i + 1);
    const double g = (std::sqrt(5.0) - 1) / 2;
    double m1 = right - g * (right - left), m2 = left + g * (right - left);
    Candidate c1 = fit_for_alpha(u, y, std::exp(m1)), c2 = fit_for_alpha(u, y, std::exp(m2));
    for (int it = 0; it < 30; ++it) {
        if (c1.sse < c2.sse) {
            right = m2;
            m2 = m1;
            c2 = c1;
            m1 = right - g * (right - left);
            c1 = fit_for_alpha(u, y, std::exp(m1));
        } else {
            left = m1;
            m1 = m2;
            c1 = c2;
            m2 = left + g * (right - left);
            c2 = fit_for_alpha(u, y, std::exp(m2));
        }
    }
    for (const Candidate& c : {c1, c2})
        if (c.sse < best.sse) best = c;
    PowerLaw law = best.law;
    law.a *= std::pow(x_ref, law.alpha);  // back from u to x
    return law;
}

namespace {

// The x of the point after `step` updates.
double x_of(int64_t step, const std::vector<double>& area_after, ForecastAxis axis) {
    if (axis == ForecastAxis::steps) return static_cast<double>(step);
    const size_t i = static_cast<size_t>(std::clamp<int64_t>(step, 0, static_cast<int64_t>(area_after.size()) - 1));
    return area_after[i];
}

double quantile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const double pos = q * (v.size() - 1);
    const size_t i = static_cast<size_t>(pos);
    return i + 1 < v.size() ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v.back();
}

constexpr int kMaxBins = 40;  // bin means: less noise to fit, and the bootstrap's units

std::vector<double> areas_after(const std::vector<double>& lr_multipliers) {
    std::vector<double> area_after(lr_multipliers.size() + 1, 0.0);
    for (size_t i = 0; i < lr_multipliers.size(); ++i) area_after[i + 1] = area_after[i] + std::max(0.0, lr_multipliers[i]);
    return area_after;
}

// The points of steps first..now binned by step (at most kMaxBins); a bin's point is the mean x and the
// mean loss of its steps. Non-finite losses and points at x = 0 (before any learning rate) are left out.
void bin_window(const std::vector<int64_t>& steps, const std::vector<double>& losses, const std::vector<double>& area_after, ForecastAxis axis,
                int64_t first, int64_t now, std::vector<double>& x, std::vector<double>& y) {
    x.clear();
    y.clear();
    const int64_t span = now - first + 1;
    const int bins = static_cast<int>(std::min<int64_t>(kMaxBins, span));
    if (bins < 1) return;
    std::vector<double> sx(bins, 0), sy(bins, 0), count(bins, 0);
    for (size_t i = 0; i < steps.size(); ++i) {
        if (steps[i] < first || steps[i] > now || !std::isfinite(losses[i])) continue;
        const double xi = x_of(steps[i], area_after, axis);
        if (!(xi > 0)) continue;
        const int b = static_cast<int>(std::min<int64_t>(bins - 1, (steps[i] - first) * bins / span));
        sx[b] += xi;
        sy[b] += losses[i];
        count[b] += 1;
    }
    for (int b = 0; b < bins; ++b)
        if (count[b] > 0) {
            x.push_back(sx[b] / count[b]);
            y.push_back(sy[b] / count[b]);
        }
}

}  // namespace

std::optional<Projection> project_final_loss(const std::vector<int64_t>& steps, const std::vector<double>& losses,
                                             const std::vector<double>& lr_multipliers, const ForecastOptions& options) {
    const int64_t total = static_cast<int64_t>(lr_multipliers.size());
    if (steps.empty() || steps.size() != losses.size() || total <= 0) return std::nullopt;
    const int64_t now = steps.back();
    const std::vector<double> area_after = areas_after(lr_multipliers);
    const double x_final = x_of(total, area_after, options.axis), x_now = x_of(now, area_after, options.axis);

    std::mt19937_64 rng(20241205);  // fixed: the same losses give the same band
    std::vector<double> finals, nows;
    for (double share : options.window_starts) {
        const int64_t first = static_cast<int64_t>(std::ceil(share * now));
        std::vector<double> x, y;
        bin_window(steps, losses, area_after, options.axis, first, now, x, y);
        auto fit = fit_power_law(x, y);
        if (!fit || x.size() < 4) continue;
        // Moving-block bootstrap of the residuals: neighbouring bins' residuals are correlated (the
        // curve's own wiggles), so blocks of them are resampled together.
        std::vector<double> fitted(x.size()), resid(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
            fitted[i] = fit->at(x[i]);
            resid[i] = y[i] - fitted[i];
        }
        const size_t block = std::max<size_t>(1, x.size() / 8);
        std::uniform_int_distribution<size_t> pick(0, x.size() - block);
        std::vector<double> y_star(x.size());
        for (int s = 0; s < options.bootstrap_samples; ++s) {
            for (size_t i = 0; i < x.size(); i += block) {
                const size_t from = pick(rng);
                for (size_t k = 0; k < block && i + k < x.size(); ++k) y_star[i + k] = fitted[i + k] + resid[from + k];
            }
            if (auto refit = fit_power_law(x, y_star)) {
                finals.push_back(refit->at(x_final));
                nows.push_back(refit->at(x_now));
            }
        }
    }
    if (finals.empty()) return std::nullopt;
    const double tail = (1 - options.band) / 2;
    return Projection{.final_loss = quantile(finals, 0.5), .low = quantile(finals, tail), .high = quantile(finals, 1 - tail),
                      .now = quantile(nows, 0.5)};
}

std::vector<double> schedule_multipliers(const ScheduleOptions& schedule) {
    std::vector<double> m(static_cast<size_t>(std::max<int64_t>(0, schedule.total_steps)));
    for (size_t i = 0; i < m.size(); ++i) m[i] = lr_multiplier(schedule, static_cast<int64_t>(i));
    return m;
}

FinalLossProjector::FinalLossProjector(std::vector<double> lr_multipliers, int64_t refresh_every, ForecastOptions options)
    : lr_multipliers_(std::move(lr_multipliers)), refresh_every_(refresh_every), options_(options) {
    if (refresh_every_ <= 0) refresh_every_ = std::max<int64_t>(1, static_cast<int64_t>(lr_multipliers_.size()) / 20);
    if (options_.window_starts.empty()) options_.window_starts = ForecastOptions{}.window_starts;
}

void FinalLossProjector::record_step(int64_t step, double loss) {
    steps_.push_back(step);
    losses_.push_back(loss);
}

void FinalLossProjector::record_eval(int64_t step, double eval_loss) {
    eval_steps_.push_back(step);
    eval_losses_.push_back(eval_loss);
}

void FinalLossProjector::annotate(StepEvent& event) {
    record_step(event.step, event.loss);
    const int64_t total = static_cast<int64_t>(lr_multipliers_.size());
    const bool started = static_cast<double>(event.step) >= options_.start_share * total;
    if (started && event.step < total && (!training_ || event.step % refresh_every_ == 0) && event.step != refreshed_at_) refresh_training();
    if (training_) event.projection = ProjectedLoss{.final_loss = training_->final_loss, .low = training_->low, .high = training_->high};
}

void FinalLossProjector::refresh_training() {
    refreshed_at_ = steps_.back();
    training_ = project_final_loss(steps_, losses_, lr_multipliers_, options_);
    // The central fit, for the validation gap: the widest window's least-squares curve.
    if (area_after_.empty()) area_after_ = areas_after(lr_multipliers_);
    std::vector<double> x, y;
    bin_window(steps_, losses_, area_after_, options_.axis, static_cast<int64_t>(std::ceil(options_.window_starts.front() * steps_.back())), steps_.back(), x, y);
    curve_ = fit_power_law(x, y);
}

void FinalLossProjector::annotate(EvalEvent& event) {
    record_eval(event.step, event.eval_loss);
    if (!training_ || !curve_) return;
    // The validation loss is taken to follow the training curve at the distance it kept over the last
    // (up to three) evaluations; their spread widens the band.
    std::vector<double> gaps;
    for (size_t i = eval_steps_.size(); i-- > 0 && gaps.size() < 3;)
        if (double x = x_of(eval_steps_[i], area_after_, options_.axis); std::isfinite(eval_losses_[i]) && x > 0)
            gaps.push_back(eval_losses_[i] - curve_->at(x));
    if (gaps.empty()) return;
    double mean = 0;
    for (double g : gaps) mean += g / gaps.size();
    const auto [lo, hi] = std::minmax_element(gaps.begin(), gaps.end());
    validation_ = Projection{.final_loss = training_->final_loss + mean, .low = training_->low + *lo, .high = training_->high + *hi,
                             .now = training_->now + mean};
    event.projection = ProjectedLoss{.final_loss = validation_->final_loss, .low = validation_->low, .high = validation_->high};
}

bool FinalLossProjector::gain_below(double eps) const {
    const std::optional<Projection>& p = validation_ ? validation_ : training_;
    return p && p->now - p->low < eps;
}

std::string FinalLossProjector::stop_message(double eps) const {
    const bool validation = validation_.has_value();
    const Projection& p = validation ? *validation_ : *training_;
    char text[320];
    std::snprintf(text, sizeof text,
                  "early stopping: the forecast says the remaining steps gain at most %.4g in %s loss (under early_stopping_projection %.4g): "
                  "now %.4f, projected final %.4f, 80%% band [%.4f, %.4f]",
                  p.now - p.low, validation ? "validation" : "training", eps, p.now, p.final_loss, p.low, p.high);
    return text;
}

}  // namespace lathe
