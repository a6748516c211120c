// The Monitor page on a long run: a 100,000-step history opens with one redraw, its smoothed loss equals
// TensorBoard's debiased moving average computed here point by point, and live steps arriving faster than
// the screen refreshes are charted at most about 30 times a second, each costing one point, not the series.
#include <qcustomplot.h>

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "core/runs/run_store.h"
#include "core/train/loss_forecast.h"
#include "tests/ui_test_support.h"
#include "ui/pages/monitor_page.h"

namespace {

// A synthetic loss curve: falling, with noise that the smoothing visibly evens out.
double lossAt(int64_t step) { return 2.0 + 3.0 * std::exp(-static_cast<double>(step) / 20000.0) + 0.3 * std::sin(step * 0.7); }

// TensorBoard's smoothing with weight `w`, debiased, evaluated for the first `n` points.
std::vector<double> debiasedAverage(int64_t n, double w) {
    std::vector<double> out;
    double last = 0, norm = 0;
    for (int64_t s = 1; s <= n; ++s) {
        last = last * w + (1 - w) * lossAt(s);
        norm = norm * w + (1 - w);
        out.push_back(last / norm);
    }
    return out;
}

}  // namespace

class MonitorPageTest : public QObject {
    Q_OBJECT
private slots:
    void longRunOpensSmoothedAndLiveStepsAreThrottled() {
        constexpr int64_t kSteps = 100000;
        QTemporaryDir dir;
        const QString db = dir.filePath("lathe.db");
        int64_t run = 0;
        {
            auto store = lathe::RunStore::open(db.toStdString());
            lathe::RunRecord r;
            r.name = "long";
            r.output_dir = dir.filePath("out").toStdString();
            run = store->create_run(r);
            std::vector<lathe::MetricPoint> points;
            for (int64_t s = 1; s <= kSteps; ++s) {
                points.push_back({s, "loss", lossAt(s)});
                points.push_back({s, "lr", 1e-4});
            }
            store->add_metrics(run, points);
            store->add_checkpoint(run, {50000, dir.filePath("out/checkpoint-50000").toStdString()});
            store->set_status(run, lathe::RunStatus::completed);
        }

        auto runs = lathe::RunStore::open(db.toStdString());
        MonitorPage page(*runs);
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        const int before = page.chartRedraws();
        QVERIFY(page.loadHistory(run));
        QCOMPARE(page.lossPointCount(), static_cast<int>(kSteps));
        QCOMPARE(page.checkpointMarkerCount(), 1);
        QCOMPARE(page.chartRedraws() - before, 1);  // one redraw for the whole history

        const double w = 0.6;  // the smoothing slider's default
        const std::vector<double> want = debiasedAverage(kSteps + 1000, w);
        QVector<double> got = page.smoothedLoss();
        QCOMPARE(got.size(), static_cast<qsizetype>(kSteps));
        for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{999}, kSteps / 2, kSteps - 1}) QVERIFY(std::abs(got[i] - want[i]) < 1e-12);

        // 1000 steps at once, as a fast trainer's events arrive in one read: each is charted, the smoothing
        // continues where the history ended, and the charts are redrawn a few times, not 1000.
        const int live = page.chartRedraws();
        for (int64_t s = kSteps + 1; s <= kSteps + 1000; ++s) {
            lathe::StepEvent e;
            e.step = s;
            e.loss = lossAt(s);
            e.lr = 1e-4;
            emit page.session()->stepped(e);
        }
        QTRY_VERIFY(page.chartRedraws() > live);
        QVERIFY2(page.chartRedraws() - live <= 3, qPrintable(QString::number(page.chartRedraws() - live)));
        got = page.smoothedLoss();
        QCOMPARE(got.size(), static_cast<qsizetype>(kSteps + 1000));
        QVERIFY(std::abs(got.last() - want.back()) < 1e-12);
    }

    // Probe datasets: one curve per probe, from the run store's eval_loss/NAME metrics (step 0 included,
    // without adding a train-loss point there) and live from eval events that name their probe; the
    // validation set's evaluations stay on the loss chart. The stability gap of continued pretraining:
    // the general probe rises after the re-warm and recovers, the domain probe falls.
    void probesAreChartedOneCurveEach() {
        QTemporaryDir dir;
        const QString db = dir.filePath("lathe.db");
        int64_t run = 0, plain = 0;
        {
            auto store = lathe::RunStore::open(db.toStdString());
            lathe::RunRecord r;
            r.name = "continued pretraining";
            r.output_dir = dir.filePath("out").toStdString();
            run = store->create_run(r);
            std::vector<lathe::MetricPoint> points;
            for (int64_t s = 1; s <= 400; ++s) {
                points.push_back({s, "loss", 1.2 + 2.0 * std::exp(-static_cast<double>(s) / 60.0) + 0.08 * std::sin(s * 0.9)});
                points.push_back({s, "lr", 1e-4});
            }
            for (int64_t s = 0; s <= 400; s += 25) {
                const double x = static_cast<double>(s);
                points.push_back({s, lathe::probe_loss_metric("general"), 2.1 + 0.9 * (x / 60.0) * std::exp(1.0 - x / 60.0) * (s > 0) + 0.0004 * x});
                points.push_back({s, lathe::probe_perplexity_metric("general"), 8.0});
                points.push_back({s, lathe::probe_loss_metric("domain"), 1.3 + 2.0 * std::exp(-x / 70.0)});
                points.push_back({s, lathe::probe_perplexity_metric("domain"), 9.0});
                if (s > 0) points.push_back({s, "eval_loss", 1.35 + 1.9 * std::exp(-x / 70.0)});
            }
            store->add_metrics(run, points);
            store->set_status(run, lathe::RunStatus::completed);
            lathe::RunRecord p;
            p.name = "no probes";
            p.output_dir = dir.filePath("plain").toStdString();
            plain = store->create_run(p);
            store->add_metrics(plain, {{1, "loss", 2.0}, {1, "eval_loss", 2.1}});
            store->set_status(plain, lathe::RunStatus::completed);
        }
        auto runs = lathe::RunStore::open(db.toStdString());
        MonitorPage page(*runs);
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QVERIFY(page.loadHistory(run));
        QVERIFY(page.probeChartShown());
        QStringList names = page.probeNames();
        names.sort();
        QCOMPARE(names, (QStringList{"domain", "general"}));
        QCOMPARE(page.probePointCount("general"), 17);
        QCOMPARE(page.probePointCount("domain"), 17);
        QCOMPARE(page.evalPointCount(), 16);
        QCOMPARE(page.lossPointCount(), 400);  // the probes' step 0 adds no train-loss point
        QTest::qWait(100);  // the charts redraw on the next event loop turn (queued replot)
        QVERIFY(uitest::saveScreenshot(&page, "monitor_probes"));

        emit page.session()->probeEvaluated(425, "general", 2.2);
        emit page.session()->evaluated(425, 1.3);
        QTRY_COMPARE(page.probePointCount("general"), 18);
        QCOMPARE(page.probePointCount("domain"), 17);
        QCOMPARE(page.evalPointCount(), 17);
        emit page.session()->probeEvaluated(425, "code", 3.0);  // a probe first seen live gets its own curve
        QTRY_COMPARE(page.probePointCount("code"), 1);
        QCOMPARE(page.probeNames().size(), 3);

        // A run without probes shows no probe chart, and none of the other run's curves.
        QVERIFY(page.loadHistory(plain));
        QVERIFY(!page.probeChartShown());
        QVERIFY(page.probeNames().isEmpty());
        QCOMPARE(page.probePointCount("general"), 0);
        QCOMPARE(page.evalPointCount(), 1);
    }

    // eval_tasks: one curve per task and metric (the filter named when there is one), from the run store's
    // eval_tasks/TASK/METRIC,FILTER metrics (step 0 included, without a train-loss point there; standard
    // errors not charted) and live from task_score events; a run without tasks shows no task chart.
    void taskScoresAreChartedOneCurveEach() {
        QTemporaryDir dir;
        const QString db = dir.filePath("lathe.db");
        int64_t run = 0, plain = 0;
        {
            auto store = lathe::RunStore::open(db.toStdString());
            lathe::RunRecord r;
            r.name = "finetune with eval_tasks";
            r.output_dir = dir.filePath("out").toStdString();
            run = store->create_run(r);
            std::vector<lathe::MetricPoint> points;
            for (int64_t s = 1; s <= 300; ++s) {
                points.push_back({s, "loss", 0.9 + 1.6 * std::exp(-static_cast<double>(s) / 50.0) + 0.06 * std::sin(s * 0.8)});
                points.push_back({s, "lr", 2e-4});
            }
            for (int64_t s = 0; s <= 300; s += 50) {
                const double x = static_cast<double>(s);
                // The domain task improves; a general benchmark dips a little (forgetting), then holds.
                points.push_back({s, lathe::task_score_metric("domain_qa", "acc", "none"), 0.31 + 0.45 * (1 - std::exp(-x / 80.0))});
                points.push_back({s, lathe::task_stderr_metric("domain_qa", "acc", "none"), 0.02});
                points.push_back({s, lathe::task_score_metric("domain_qa", "acc_norm", "none"), 0.35 + 0.4 * (1 - std::exp(-x / 90.0))});
                points.push_back({s, lathe::task_score_metric("arc_easy", "acc", "none"), 0.58 - 0.05 * (x / 300.0)});
                points.push_back({s, lathe::task_score_metric("gsm8k", "exact_match", "strict-match"), 0.12 + 0.02 * (x / 300.0)});
                if (s > 0) points.push_back({s, "eval_loss", 1.0 + 1.5 * std::exp(-x / 55.0)});
            }
            store->add_metrics(run, points);
            store->set_status(run, lathe::RunStatus::completed);
            lathe::RunRecord p;
            p.name = "no tasks";
            p.output_dir = dir.filePath("plain").toStdString();
            plain = store->create_run(p);
            store->add_metrics(plain, {{1, "loss", 2.0}});
            store->set_status(plain, lathe::RunStatus::completed);
        }
        auto runs = lathe::RunStore::open(db.toStdString());
        MonitorPage page(*runs);
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QVERIFY(page.loadHistory(run));
        QVERIFY(page.taskChartShown());
        QVERIFY(!page.probeChartShown());
        QCOMPARE(page.taskCurveNames(), (QStringList{"domain_qa acc", "domain_qa acc_norm", "arc_easy acc", "gsm8k exact_match (strict-match)"}));
        for (const QString& curve : page.taskCurveNames()) QCOMPARE(page.taskPointCount(curve), 7);
        QCOMPARE(page.lossPointCount(), 300);  // the scores' step 0 adds no train-loss point
        QCOMPARE(page.evalPointCount(), 6);
        QTest::qWait(100);  // the charts redraw on the next event loop turn (queued replot)
        QVERIFY(uitest::saveScreenshot(&page, "monitor_eval_tasks"));
        // The legend sits under the plot, so it covers no curve's end; every entry within the chart's width.
        auto* plot = page.findChild<QCustomPlot*>("taskPlot");
        QVERIFY(plot);
        auto legendClearOfThePlot = [plot] {
            plot->replot();
            const QRect legend = plot->legend->outerRect(), data = plot->axisRect()->outerRect();
            bool inside = true;
            for (int i = 0; i < plot->legend->itemCount(); ++i)
                if (QCPAbstractLegendItem* item = plot->legend->item(i)) inside = inside && plot->rect().contains(item->outerRect());
            return plot->legend->visible() && !legend.intersects(data) && inside;
        };
        QVERIFY(legendClearOfThePlot());

        emit page.session()->taskScored(350, "arc_easy", "acc", "none", 0.57);
        QTRY_COMPARE(page.taskPointCount("arc_easy acc"), 8);
        QCOMPARE(page.taskPointCount("domain_qa acc"), 7);
        emit page.session()->taskScored(350, "hellaswag", "acc_norm", "none", 0.4);  // a task first seen live gets its own curve
        QTRY_COMPARE(page.taskPointCount("hellaswag acc_norm"), 1);
        QCOMPARE(page.taskCurveNames().size(), 5);
        page.resize(700, 800);  // five entries on a narrow chart: they wrap to a second row
        QTest::qWait(50);
        QVERIFY(legendClearOfThePlot());
        QVERIFY(plot->legend->rowCount() > 1);
        QVERIFY(uitest::saveScreenshot(&page, "monitor_eval_tasks_narrow"));
        page.resize(1280, 800);

        QVERIFY(page.loadHistory(plain));
        QVERIFY(!page.taskChartShown());
        QVERIFY(page.taskCurveNames().isEmpty());
        QCOMPARE(page.taskPointCount("arc_easy acc"), 0);
    }

    // Preference runs (rl): the step events' reward margin and accuracy get a chart of their own, live and
    // from the run store's metrics; supervised runs never show it.
    void preferenceMetricsAreCharted() {
        QTemporaryDir dir;
        const QString db = dir.filePath("lathe.db");
        int64_t run = 0;
        {
            auto store = lathe::RunStore::open(db.toStdString());
            lathe::RunRecord r;
            r.name = "dpo";
            r.output_dir = dir.filePath("out").toStdString();
            run = store->create_run(r);
            std::vector<lathe::MetricPoint> points;
            for (int64_t s = 1; s <= 5; ++s) {
                points.push_back({s, "loss", 0.69 - 0.01 * static_cast<double>(s)});
                points.push_back({s, "rewards/margins", 0.02 * static_cast<double>(s)});
                points.push_back({s, "rewards/accuracies", s > 2 ? 1.0 : 0.5});
            }
            store->add_metrics(run, points);
            store->set_status(run, lathe::RunStatus::completed);
        }
        auto runs = lathe::RunStore::open(db.toStdString());
        MonitorPage page(*runs);
        page.show();
        QVERIFY(!page.preferenceChartShown());
        QVERIFY(page.loadHistory(run));
        QCOMPARE(page.preferencePointCount(), 5);
        QVERIFY(page.preferenceChartShown());

        lathe::StepEvent e;
        e.step = 6;
        e.loss = 0.6;
        e.preference = lathe::PreferenceMetrics{.rewards_chosen = 0.1, .rewards_rejected = -0.1, .rewards_margins = 0.2,
                                                .rewards_accuracies = 1.0, .logps_chosen = -10, .logps_rejected = -12};
        emit page.session()->stepped(e);
        QTRY_COMPARE(page.preferencePointCount(), 6);

        lathe::StepEvent plain;
        plain.step = 7;
        plain.loss = 0.5;
        emit page.session()->stepped(plain);
        QTRY_COMPARE(page.lossPointCount(), 7);
        QCOMPARE(page.preferencePointCount(), 6);  // a step without them adds none
    }

    // The forecast of the final loss: drawn ahead of the curve, from its newest point to the last step,
    // from the step and eval events that carry one (a run in the store at 40%, then live steps), never
    // before. The run's events are what the trainer's FinalLossProjector writes for a noisy power-law curve.
    void forecastIsDrawnAheadOfTheCurve() {
        constexpr int64_t kTotal = 2000, kDone = 800;
        const std::vector<double> lr = lathe::schedule_multipliers({.kind = "cosine", .warmup_steps = 50, .total_steps = kTotal});
        std::vector<double> area(kTotal + 1, 0.0);
        for (int64_t i = 0; i < kTotal; ++i) area[i + 1] = area[i] + lr[i];
        auto noisyLoss = [&](int64_t s) { return 2.0 + 3.0 * std::pow(area[s] + 1, -0.3) + 0.08 * std::sin(s * 0.9); };
        QTemporaryDir dir;
        const QString db = dir.filePath("lathe.db");
        int64_t run = 0, plain = 0;
        std::optional<lathe::ProjectedLoss> lastTraining, lastValidation;
        {
            auto store = lathe::RunStore::open(db.toStdString());
            lathe::RunRecord r;
            r.name = "forecast";
            r.output_dir = dir.filePath("out").toStdString();
            run = store->create_run(r);
            store->add_event(run, lathe::to_line({run, lathe::StartEvent{.resumed = false, .step = 0, .total_steps = kTotal, .train_rows = 8000,
                                                                         .validation_rows = 40, .trainable_parameters = 1000, .device = "cpu",
                                                                         .output_dir = r.output_dir, .attention = "sdpa_per_sequence",
                                                                         .precision = "float32"}}));
            lathe::FinalLossProjector projector(lr, 100);
            std::vector<lathe::MetricPoint> points;
            for (int64_t s = 1; s <= kDone; ++s) {
                lathe::StepEvent e{.step = s, .total_steps = kTotal, .epoch = 0, .loss = noisyLoss(s), .lr = 1e-3 * lr[s - 1], .grad_norm = 1,
                                   .tokens_per_s = 1000, .elapsed_s = 0.1 * s, .gpu_mem_gib = std::nullopt, .preference = std::nullopt,
                                   .projection = std::nullopt, .rank_mem_gib = std::nullopt};
                projector.annotate(e);
                QCOMPARE(e.projection.has_value(), s >= kTotal / 5);
                if (e.projection) lastTraining = e.projection;
                store->add_event(run, lathe::to_line({run, e}));
                points.push_back({s, "loss", e.loss});
                points.push_back({s, "lr", e.lr});
                if (s % 100 == 0) {
                    lathe::EvalEvent ev{.step = s, .eval_loss = noisyLoss(s) + 0.2, .perplexity = 0, .projection = std::nullopt, .probe = "", .preference = std::nullopt};
                    projector.annotate(ev);
                    if (ev.projection) lastValidation = ev.projection;
                    store->add_event(run, lathe::to_line({run, ev}));
                    points.push_back({s, "eval_loss", ev.eval_loss});
                }
            }
            store->add_metrics(run, points);
            store->set_status(run, lathe::RunStatus::stopped);
            r.name = "no forecast";
            plain = store->create_run(r);
            store->add_metrics(plain, {{1, "loss", 3.0}, {2, "loss", 2.9}});
            store->set_status(plain, lathe::RunStatus::completed);
        }
        QVERIFY(lastTraining && lastValidation);

        auto runs = lathe::RunStore::open(db.toStdString());
        MonitorPage page(*runs);
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QVERIFY(!page.projectionShown());
        QVERIFY(page.loadHistory(run));
        QVERIFY(page.projectionShown());
        QCOMPARE(*page.trainingProjection(), *lastTraining);
        QCOMPARE(*page.validationProjection(), *lastValidation);
        QCOMPARE(page.trainingForecastSpan(), (QPair<double, double>{double(kDone), double(kTotal)}));
        QVERIFY(lastTraining->low < lastTraining->final_loss && lastTraining->final_loss < lastTraining->high);
        QTest::qWait(100);  // the queued redraw
        QVERIFY(uitest::saveScreenshot(&page, "monitor_forecast"));

        // A live step with a new projection moves the forecast's start and replaces it.
        lathe::StepEvent e;
        e.step = kDone + 1;
        e.total_steps = kTotal;
        e.loss = noisyLoss(kDone + 1);
        e.projection = lathe::ProjectedLoss{.final_loss = 2.5, .low = 2.4, .high = 2.6};
        emit page.session()->stepped(e);
        QCOMPARE(page.trainingProjection()->final_loss, 2.5);
        QCOMPARE(page.trainingForecastSpan(), (QPair<double, double>{double(kDone + 1), double(kTotal)}));
        // A run without forecasts shows none.
        QVERIFY(page.loadHistory(plain));
        QVERIFY(!page.projectionShown());
        QVERIFY(!page.trainingProjection());
    }
};

int runMonitorPageTests(int argc, char** argv) {
    MonitorPageTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_monitor.moc"
