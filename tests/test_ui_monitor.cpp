// The Monitor page on a long run: a 100,000-step history opens with one redraw, its smoothed loss equals
// TensorBoard's debiased moving average computed here point by point, and live steps arriving faster than
// the screen refreshes are charted at most about 30 times a second, each costing one point, not the series.
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "core/runs/run_store.h"
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
};

int runMonitorPageTests(int argc, char** argv) {
    MonitorPageTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_monitor.moc"
