// The Evaluate page over a real run store: a run's base model and checkpoint scored by `lathe eval` on a
// local task, side by side, kept in the store (a new page shows them again), and the figures the same as
// `lathe eval` prints for the same model.
#include <QJsonDocument>
#include <QJsonObject>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "core/runs/run_store.h"
#include "tests/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/studio_run_store.h"
#include "ui/pages/evaluate_page.h"

namespace {

// A multiple-choice task over four local documents (lm-evaluation-harness's YAML).
QString writeTask(const QString& dir) {
    QFile docs(dir + "/mc.jsonl");
    docs.open(QIODevice::WriteOnly);
    const char* q[] = {"the cat sat on", "a dog ran to", "birds fly over the", "we looked at the"};
    for (int i = 0; i < 4; ++i)
        docs.write(QString("{\"question\": \"%1\", \"choices\": [\"the mat\", \"a tree\", \"warm sun\"], \"label\": %2}\n").arg(q[i]).arg(i % 3).toUtf8());
    docs.close();
    QFile task(dir + "/mc.yaml");
    task.open(QIODevice::WriteOnly);
    task.write(QString("task: tiny_mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: %1/mc.jsonl\ntest_split: test\n"
                       "output_type: multiple_choice\ndoc_to_text: \"{{question}}\"\ndoc_to_target: label\ndoc_to_choice: choices\n")
                   .arg(dir)
                   .toUtf8());
    task.close();
    return task.fileName();
}

// `lathe eval --json`'s last line: the harness's results object.
QJsonObject evalResult(const QStringList& args) {
    uitest::CliResult r = uitest::runLathe(QStringList{"eval", "--json"} + args);
    if (r.code != 0) qWarning("%s", qPrintable(r.err));
    const QStringList lines = r.out.split('\n', Qt::SkipEmptyParts);
    return lines.isEmpty() ? QJsonObject() : QJsonDocument::fromJson(lines.last().toUtf8()).object();
}

}  // namespace

class EvaluatePageTest : public QObject {
    Q_OBJECT
private slots:
    void init() { QSettings().clear(); }

    void scoresBaseAndCheckpointSideBySide() {
        QTemporaryDir dir;
        QDir().mkpath(dir.filePath("model"));
        const QString model = uitest::makeModelWithTokenizer(dir.filePath("model"));
        const QString db = dir.filePath("lathe.db");
        uitest::CliResult trained = uitest::trainTinyRun(model, dir.path(), db, "scored");
        QVERIFY2(trained.code == 0, qPrintable(trained.err));
        const auto store = lathe::RunStore::open(db.toStdString());
        const qint64 run = store->list_runs().back().id;
        const auto checkpoints = store->checkpoints(run);
        QVERIFY(checkpoints.size() >= 2);
        const QString last = QString("checkpoint %1").arg(checkpoints.back().step);
        const QString task = writeTask(dir.path());

        MainWindow window;
        window.resize(1280, 800);
        window.show();
        EvaluatePage* page = window.evaluatePage();
        window.runStore()->setPath(db);
        page->selectRun(run);
        window.showPage(page);
        QCOMPARE(page->runId(), run);
        // The run's base model and every checkpoint are offered; the base and the last one are checked.
        const QStringList offered = page->targetNames();
        QVERIFY2(offered.contains("base") && offered.contains(last) && offered.contains(QString("checkpoint %1").arg(checkpoints.front().step)),
                 qPrintable(offered.join(", ")));
        page->setTasks({task});
        QSignalSpy done(page, &EvaluatePage::finished);
        page->start();
        QVERIFY(page->isRunning());
        QVERIFY(done.wait(180000));
        QVERIFY2(page->errorText().isEmpty(), qPrintable(page->errorText()));
        QCOMPARE(page->resultColumns(), (QStringList{"base", last}));

        // The same figures as `lathe eval` prints for each model.
        const QJsonObject base = evalResult({"--model", model, "--tasks", task});
        const QJsonObject trainedModel = evalResult({"--run", QString::number(run), "--store", db, "--tasks", task});
        for (const char* name : {"acc", "acc_norm"}) {
            const QString metric = name;
            const QJsonObject b = base["results"].toObject()["tiny_mc"].toObject(), t = trainedModel["results"].toObject()["tiny_mc"].toObject();
            const QString wantBase = QString::number(b[metric + ",none"].toDouble(), 'f', 4) + QString::fromUtf8(" ± ") +
                                     QString::number(b[metric + "_stderr,none"].toDouble(), 'f', 4);
            const QString wantTrained = QString::number(t[metric + ",none"].toDouble(), 'f', 4) + QString::fromUtf8(" ± ") +
                                        QString::number(t[metric + "_stderr,none"].toDouble(), 'f', 4);
            QCOMPARE(page->resultCell("tiny_mc", metric, "base"), wantBase);
            QCOMPARE(page->resultCell("tiny_mc", metric, last), wantTrained);
        }
        // `lathe eval` writes its "recorded" line in several pieces; the log shows it whole.
        const QStringList logLines = page->findChild<QPlainTextEdit*>("evalLog")->toPlainText().split('\n');
        QVERIFY2(logLines.contains(QString("lathe: recorded 2 scores of %1 beside run %2").arg(last).arg(run)), qPrintable(logLines.join(" | ")));
        QVERIFY(uitest::saveScreenshot(&window, "evaluate_page"));

        // Kept in the run store: a new page shows them without scoring again.
        QVERIFY(!lathe::RunStore::open(db.toStdString())->eval_scores(run).empty());
        const auto reader = lathe::RunStore::open(db.toStdString());
        EvaluatePage again(*reader);
        again.selectRun(run);
        QCOMPARE(again.resultColumns(), (QStringList{"base", last}));
        QCOMPARE(again.resultCell("tiny_mc", "acc", "base"), page->resultCell("tiny_mc", "acc", "base"));

        // Nothing starts without a task file that exists; the error says which.
        again.setTasks({dir.filePath("missing.yaml")});
        again.start();
        QVERIFY(!again.isRunning());
        QVERIFY2(again.errorText().contains("missing.yaml"), qPrintable(again.errorText()));
    }

    // The page reads through the RunReader it is given; a change of the store rebuilds the table only when
    // the shown run's scores changed (not for another run's, nor for a write that added none), and the
    // models offered only when its checkpoints changed.
    void storeChangesReloadOnlyTheShownRun() {
        QTemporaryDir dir;
        const QString db = dir.filePath("lathe.db");
        auto writer = lathe::RunStore::open(db.toStdString());
        lathe::RunRecord r;
        r.name = "shown";
        r.model = dir.filePath("base").toStdString();
        const int64_t shown = writer->create_run(r);
        r.name = "other";
        const int64_t other = writer->create_run(r);
        auto score = [](const std::string& model, int64_t step, double value) {
            return lathe::EvalScore{.model = model, .step = step, .task = "tiny_mc", .metric = "acc", .filter = "none", .value = value,
                                    .stderr_value = 0.25, .num_fewshot = 0, .limit = -1, .time = 0};
        };
        writer->add_eval_scores(shown, {score("base", -1, 0.25)});

        const auto reader = lathe::RunStore::open(db.toStdString());
        EvaluatePage page(*reader);
        page.selectRun(shown);
        QCOMPARE(page.runId(), shown);
        QCOMPARE(page.resultCell("tiny_mc", "acc", "base"), QString::fromUtf8("0.2500 ± 0.2500"));
        const int reloads = page.scoreReloads();

        page.storeChanged();  // nothing new
        QCOMPARE(page.scoreReloads(), reloads);
        writer->add_eval_scores(other, {score("base", -1, 0.75)});
        writer->add_metrics(shown, {{1, "loss", 2.0}});
        page.storeChanged();  // another run's scores, and a write that adds none
        QCOMPARE(page.scoreReloads(), reloads);
        QCOMPARE(page.resultColumns(), QStringList{"base"});

        writer->add_checkpoint(shown, {2, dir.filePath("checkpoint-2").toStdString(), 0});
        QDir().mkpath(dir.filePath("checkpoint-2"));
        page.storeChanged();  // a checkpoint: offered, the table left alone
        QVERIFY2(page.targetNames().contains("checkpoint 2"), qPrintable(page.targetNames().join(", ")));
        QCOMPARE(page.scoreReloads(), reloads);

        writer->add_eval_scores(shown, {score("checkpoint 2", 2, 0.5)});
        page.storeChanged();  // the shown run's new scores
        QCOMPARE(page.scoreReloads(), reloads + 1);
        QCOMPARE(page.resultColumns(), (QStringList{"base", "checkpoint 2"}));
        QCOMPARE(page.resultCell("tiny_mc", "acc", "checkpoint 2"), QString::fromUtf8("0.5000 ± 0.2500"));

        page.selectRun(other);  // choosing another run shows its scores
        QCOMPARE(page.resultCell("tiny_mc", "acc", "base"), QString::fromUtf8("0.7500 ± 0.2500"));
    }

    // A model that cannot be scored (no tokenizer) stops the queue with lathe eval's reason.
    void failureSaysWhy() {
        QTemporaryDir dir;
        QDir().mkpath(dir.filePath("model"));
        const QString model = uitest::makeModelWithTokenizer(dir.filePath("model"));
        const QString db = dir.filePath("lathe.db");
        QVERIFY(uitest::trainTinyRun(model, dir.path(), db, "r").code == 0);
        QDir().mkpath(dir.filePath("no-tokenizer"));
        QFile::copy(model + "/config.json", dir.filePath("no-tokenizer/config.json"));
        QFile::copy(model + "/model.safetensors", dir.filePath("no-tokenizer/model.safetensors"));
        const auto reader = lathe::RunStore::open(db.toStdString());
        EvaluatePage page(*reader);
        page.setTasks({writeTask(dir.path())});
        page.addModelFolder(dir.filePath("no-tokenizer"));
        for (const QString& name : page.targetNames()) page.setTargetChecked(name, name.contains("no-tokenizer"));
        QSignalSpy done(&page, &EvaluatePage::finished);
        page.start();
        QVERIFY(done.wait(120000));
        QVERIFY2(page.errorText().contains("no tokenizer"), qPrintable(page.errorText()));
    }
};

int runEvaluatePageTests(int argc, char** argv) {
    EvaluatePageTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_evaluate.moc"
