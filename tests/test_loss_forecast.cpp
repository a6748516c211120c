// The final-loss forecast (core/train/loss_forecast.h): the fit recovers a known power law, a projection
// from 20% of a noiseless curve lands on its end, the band's coverage on noisy curves is near the 80%
// it claims, and the projector writes the contract's fields into the events at the right steps.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/train/loss_forecast.h"
#include "core/train/lr_schedule.h"

using namespace lathe;

namespace {

std::vector<double> cosine(int64_t total, int64_t warmup) {
    return schedule_multipliers({.kind = "cosine", .warmup_steps = warmup, .total_steps = total});
}

// The area under the schedule after each step: the x of ForecastAxis::lr_area.
std::vector<double> areas(const std::vector<double>& m) {
    std::vector<double> a(m.size() + 1, 0.0);
    for (size_t i = 0; i < m.size(); ++i) a[i + 1] = a[i] + m[i];
    return a;
}

struct Curve {
    std::vector<int64_t> steps;
    std::vector<double> losses;
};

// L = law(S1(step)) plus Gaussian noise of sd `noise`, for steps 1..upto.
Curve curve_of(const PowerLaw& law, const std::vector<double>& m, int64_t upto, double noise, std::mt19937_64& rng) {
    const auto area = areas(m);
    std::normal_distribution<double> n(0, noise);
    Curve c;
    for (int64_t s = 1; s <= upto; ++s) {
        c.steps.push_back(s);
        c.losses.push_back(law.at(area[s]) + (noise > 0 ? n(rng) : 0));
    }
    return c;
}

}  // namespace

TEST(LossForecast, FitRecoversAKnownLaw) {
    for (PowerLaw truth : {PowerLaw{2.0, 3.0, 0.5}, PowerLaw{0.5, 10.0, 1.2}, PowerLaw{3.25, 1.5, 0.15}}) {
        std::vector<double> x, y;
        for (int i = 1; i <= 200; ++i) {
            x.push_back(5.0 * i);
            y.push_back(truth.at(5.0 * i));
        }
        auto fit = fit_power_law(x, y);
        ASSERT_TRUE(fit);
        EXPECT_NEAR(fit->alpha, truth.alpha, 1e-3 * truth.alpha);
        EXPECT_NEAR(fit->l_inf, truth.l_inf, 1e-3);
        EXPECT_NEAR(fit->a, truth.a, 2e-3 * truth.a);
    }
    EXPECT_FALSE(fit_power_law({1, 2}, {3, 2}));  // two points cannot fix three parameters
}

TEST(LossForecast, FitKeepsTheLawPhysical) {
    // A rising curve: no falling law fits it, so the fit is the flat line at its mean (a = 0).
    auto rising = fit_power_law({1, 2, 3, 4}, {1.0, 1.1, 1.2, 1.3});
    ASSERT_TRUE(rising);
    EXPECT_EQ(rising->a, 0);
    EXPECT_NEAR(rising->l_inf, 1.15, 1e-12);
    // A curve heading below zero keeps l_inf at zero.
    std::vector<double> x, y;
    for (int i = 1; i <= 50; ++i) {
        x.push_back(i);
        y.push_back(2.0 * std::pow(i, -0.7) - 0.05);
    }
    auto fit = fit_power_law(x, y);
    ASSERT_TRUE(fit);
    EXPECT_GE(fit->l_inf, 0);
}

TEST(LossForecast, ProjectsANoiselessCurveToItsEnd) {
    const PowerLaw truth{1.5, 4.0, 0.6};
    const auto m = cosine(2000, 50);
    std::mt19937_64 rng(1);
    Curve c = curve_of(truth, m, 400, 0, rng);
    {
        auto p = project_final_loss(c.steps, c.losses, m, {.axis = ForecastAxis::lr_area});
        ASSERT_TRUE(p);
        const double end = truth.at(areas(m).back());
        EXPECT_NEAR(p->final_loss, end, 1e-3);
        EXPECT_LE(p->low, p->final_loss);
        EXPECT_GE(p->high, p->final_loss);
        EXPECT_LT(p->high - p->low, 1e-3);  // no noise, no doubt
        EXPECT_NEAR(p->now, truth.at(areas(m)[400]), 1e-3);
    }
}

// Curves drawn from the model itself, with noise as large as a small batch's: the 80% band should hold
// the true end in about 80% of them. Too narrow a band (under 65%) or one that says nothing (over 95%)
// fails.
TEST(LossForecast, BandCoverageOnNoisyCurves) {
    const auto m = cosine(1000, 20);
    const auto area = areas(m);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(0, 1);
    int held = 0;
    const int trials = 60;
    for (int t = 0; t < trials; ++t) {
        const PowerLaw truth{1.0 + 2 * u(rng), 2.0 + 4 * u(rng), 0.3 + 0.6 * u(rng)};
        Curve c = curve_of(truth, m, 200, 0.1, rng);
        auto p = project_final_loss(c.steps, c.losses, m, {.axis = ForecastAxis::lr_area, .bootstrap_samples = 100});
        ASSERT_TRUE(p);
        const double end = truth.at(area.back());
        held += p->low <= end && end <= p->high;
    }
    EXPECT_GE(held, 0.65 * trials);
    EXPECT_LE(held, 0.95 * trials);
}

TEST(LossForecast, ProjectorAnnotatesEventsFromTwentyPercentOn) {
    const PowerLaw truth{2.0, 3.0, 0.5};
    const auto m = cosine(500, 10);
    const auto area = areas(m);
    FinalLossProjector projector(m, 50, {.axis = ForecastAxis::lr_area});
    std::optional<ProjectedLoss> first;
    for (int64_t s = 1; s <= 300; ++s) {
        StepEvent e{.step = s, .total_steps = 500, .epoch = 0, .loss = truth.at(area[s]), .lr = m[s - 1], .grad_norm = 0, .tokens_per_s = 0,
                    .elapsed_s = 0, .gpu_mem_gib = std::nullopt, .preference = std::nullopt, .projection = std::nullopt, .rank_mem_gib = std::nullopt};
        projector.annotate(e);
        if (s < 100) {
            EXPECT_FALSE(e.projection) << s;
        } else {
            ASSERT_TRUE(e.projection) << s;
            if (!first) first = e.projection;
            if (s < 150) {
                EXPECT_EQ(*e.projection, *first) << "refreshed only at each eval_steps";
            }
            EXPECT_NEAR(e.projection->final_loss, truth.at(area.back()), 1e-3);
        }
        if (s % 50 == 0) {
            // The validation loss runs 0.25 above the training loss: the projection follows it there.
            EvalEvent ev{.step = s, .eval_loss = truth.at(area[s]) + 0.25, .perplexity = 0, .projection = std::nullopt, .probe = "", .preference = std::nullopt};
            projector.annotate(ev);
            EXPECT_EQ(ev.projection.has_value(), s >= 100) << s;
            if (ev.projection) {
                EXPECT_NEAR(ev.projection->final_loss, truth.at(area.back()) + 0.25, 1e-3);
            }
        }
    }
}

TEST(LossForecast, GainBelowFollowsTheBand) {
    const auto m = schedule_multipliers({.kind = "constant", .warmup_steps = 0, .total_steps = 1000});
    const auto area = areas(m);
    auto run_to = [&](const PowerLaw& law, int64_t upto) {
        FinalLossProjector projector(m, 100);
        for (int64_t s = 1; s <= upto; ++s) {
            StepEvent e{.step = s, .total_steps = 1000, .epoch = 0, .loss = law.at(area[s]), .lr = 1, .grad_norm = 0, .tokens_per_s = 0,
                        .elapsed_s = 0, .gpu_mem_gib = std::nullopt, .preference = std::nullopt, .projection = std::nullopt, .rank_mem_gib = std::nullopt};
            projector.annotate(e);
        }
        return projector;
    };
    // Still falling fast: 300 -> 1000 steps gains 5 * (300^-0.5 - 1000^-0.5) = 0.13.
    EXPECT_FALSE(run_to({1.0, 5.0, 0.5}, 300).gain_below(0.05));
    EXPECT_TRUE(run_to({1.0, 5.0, 0.5}, 300).gain_below(0.2));
    EXPECT_FALSE(run_to({1.0, 5.0, 0.5}, 100).gain_below(10)) << "no projection before 20%: never stops";
}
