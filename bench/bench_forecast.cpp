// The forecast study's measuring half (bench/forecast_study.sh records the runs): replays each run's
// events through FinalLossProjector exactly as the trainer feeds it, keeps the projections it made at
// 20% (and 40%, 60%) of the run, and compares them with what the run reached: the training loss's
// mean over the last 50 steps (one step's loss is one batch's, too noisy to be "the" final loss) and
// the last evaluation's validation loss. Both axes are measured (steps and the schedule's area), and
// the naive forecast "no further gain" (the mean loss of the 50 steps before the projection) beside
// them, so the figures say what the fit adds.
// usage: bench_forecast [--windows 0.25,0.5] RUN.jsonl...   (each RUN.yaml beside its events gives the schedule;
//        --windows: ForecastOptions::window_starts, to compare choices)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/train/events.h"
#include "core/train/loss_forecast.h"
#include "core/train/lr_schedule.h"
#include "core/train/train_config.h"
#include "core/util/error.h"

namespace {

using namespace lathe;

struct Recorded {
    std::string name;
    std::vector<double> lr_multipliers;
    std::vector<StepEvent> steps;
    std::vector<EvalEvent> evals;
};

Recorded read_run(const std::string& events_path) {
    Recorded run;
    run.name = events_path.substr(events_path.find_last_of('/') + 1);
    run.name = run.name.substr(0, run.name.size() - 6);
    const std::string yaml = events_path.substr(0, events_path.size() - 6) + ".yaml";
    TrainConfig c = read_train_config(yaml);
    std::ifstream in(events_path);
    std::string text;
    int64_t total = 0;
    while (std::getline(in, text)) {
        auto line = parse_event_line(text);
        if (!line) continue;
        if (auto* s = std::get_if<StartEvent>(&line->event)) total = s->total_steps;
        if (auto* s = std::get_if<StepEvent>(&line->event)) run.steps.push_back(*s);
        if (auto* e = std::get_if<EvalEvent>(&line->event)) run.evals.push_back(*e);
    }
    if (total == 0 || static_cast<int64_t>(run.steps.size()) != total)
        throw Error(events_path + ": not a completed run (" + std::to_string(run.steps.size()) + " of " + std::to_string(total) + " steps)");
    run.lr_multipliers = schedule_multipliers(
        {.kind = c.lr_scheduler, .warmup_steps = c.warmup_steps, .total_steps = total, .min_lr_ratio = c.cosine_min_lr_ratio});
    return run;
}

double mean_loss(const std::vector<StepEvent>& steps, size_t end, size_t count) {
    double sum = 0;
    for (size_t i = end - count; i < end; ++i) sum += steps[i].loss;
    return sum / count;
}

struct Outcome {
    double projected = 0, low = 0, high = 0, truth = 0, naive = 0;
};

// The training and validation projections in force once `share` of the run is done.
std::vector<double> g_windows = ForecastOptions{}.window_starts;

std::pair<Outcome, Outcome> replay(const Recorded& run, ForecastAxis axis, double share) {
    ForecastOptions options{.axis = axis};
    options.window_starts = g_windows;
    FinalLossProjector projector(run.lr_multipliers, 100, options);
    const int64_t total = static_cast<int64_t>(run.lr_multipliers.size());
    const int64_t at = static_cast<int64_t>(share * total);
    size_t e = 0;
    Outcome train, validation;
    for (StepEvent s : run.steps) {
        if (s.step > at) break;
        projector.annotate(s);
        for (; e < run.evals.size() && run.evals[e].step <= s.step; ++e) {
            EvalEvent ev = run.evals[e];
            projector.annotate(ev);
        }
    }
    const auto& t = projector.training();
    const auto& v = projector.validation();
    if (!t || !v) throw Error(run.name + ": no projection at " + std::to_string(at));
    const double truth_train = mean_loss(run.steps, run.steps.size(), 50);
    const double naive = mean_loss(run.steps, static_cast<size_t>(at), 50);
    train = {t->final_loss, t->low, t->high, truth_train, naive};
    // The naive validation forecast: the last validation loss seen.
    double last_eval = 0;
    for (const EvalEvent& ev : run.evals)
        if (ev.step <= at) last_eval = ev.eval_loss;
    validation = {v->final_loss, v->low, v->high, run.evals.back().eval_loss, last_eval};
    return {train, validation};
}

double quantile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const double pos = q * (v.size() - 1);
    const size_t i = static_cast<size_t>(pos);
    return i + 1 < v.size() ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v.back();
}

void summarise(const char* label, const std::vector<Outcome>& outcomes) {
    std::vector<double> err, naive;
    int held = 0;
    double width = 0, bias = 0;
    for (const Outcome& o : outcomes) {
        err.push_back(std::abs(o.projected - o.truth));
        bias += (o.projected - o.truth) / outcomes.size();
        naive.push_back(std::abs(o.naive - o.truth));
        held += o.truth >= o.low && o.truth <= o.high;
        width += (o.high - o.low) / outcomes.size();
    }
    std::printf("| %s | %zu | %.3f | %.3f | %+.3f | %d/%zu | %.3f | %.3f | %.3f |\n", label, outcomes.size(), quantile(err, 0.5), quantile(err, 0.9),
                bias, held, outcomes.size(), width, quantile(naive, 0.5), quantile(naive, 0.9));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_forecast RUN.jsonl...\n");
        return 2;
    }
    try {
        std::vector<Recorded> runs;
        for (int i = 1; i < argc; ++i) {
            if (std::string(argv[i]) == "--windows" && i + 1 < argc) {
                g_windows.clear();
                std::string list = argv[++i];
                for (size_t at = 0; at < list.size();) {
                    size_t comma = std::min(list.find(',', at), list.size());
                    g_windows.push_back(std::stod(list.substr(at, comma - at)));
                    at = comma + 1;
                }
                continue;
            }
            runs.push_back(read_run(argv[i]));
        }
        std::printf("Windows fitted from");
        for (double w : g_windows) std::printf(" %.2f", w);
        std::printf(" of the steps done\n\n");
        const ForecastAxis chosen = ForecastOptions{}.axis;
        std::printf("Per run, forecast from 20%% of the steps (axis %s): projected [80%% band] vs. real final\n\n",
                    chosen == ForecastAxis::steps ? "steps" : "lr_area");
        std::printf("| run | training | real | validation | real |\n|---|---|---|---|---|\n");
        for (const Recorded& run : runs) {
            auto [t, v] = replay(run, chosen, 0.2);
            std::printf("| %s | %.3f [%.3f, %.3f] | %.3f | %.3f [%.3f, %.3f] | %.3f |\n", run.name.c_str(), t.projected, t.low, t.high, t.truth,
                        v.projected, v.low, v.high, v.truth);
        }
        std::printf("\nAbsolute error (nats) over the runs; naive: the loss at the time of the forecast, i.e. no further gain\n\n");
        std::printf("| axis, loss, forecast at | runs | median error | 90th pct error | mean signed error | band held the truth | mean band width | naive median | naive 90th pct |\n");
        std::printf("|---|---|---|---|---|---|---|---|---|\n");
        for (ForecastAxis axis : {ForecastAxis::lr_area, ForecastAxis::steps})
            for (double share : {0.2, 0.4, 0.6}) {
                std::vector<Outcome> train, validation;
                for (const Recorded& run : runs) {
                    auto [t, v] = replay(run, axis, share);
                    train.push_back(t);
                    validation.push_back(v);
                }
                const std::string where = std::string(axis == ForecastAxis::lr_area ? "lr_area" : "steps");
                const std::string at = std::to_string(static_cast<int>(share * 100)) + "%";
                summarise((where + ", training, " + at).c_str(), train);
                summarise((where + ", validation, " + at).c_str(), validation);
            }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_forecast: %s\n", e.what());
        return 1;
    }
    return 0;
}
