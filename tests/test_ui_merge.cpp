// The Merge page over a real run store: a run's checkpoints offered as run:ID:STEP inputs, the residual
// transfer ("chat vector") recipe written as task_arithmetic, the merge run by the real `lathe merge`
// with its progress, and the merged folder opened on the Models page; each method offering only its
// own parameters; the estimate read from the model's files.
#include <QCheckBox>
#include <QFile>
#include <QFileInfo>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "core/runs/run_store.h"
#include "tests/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/pages/merge_page.h"
#include "ui/pages/models_page.h"
#include "ui/studio_run_store.h"

namespace {

QString readAll(const QString& path) {
    QFile f(path);
    f.open(QIODevice::ReadOnly);
    return QString::fromUtf8(f.readAll());
}

}  // namespace

class MergePageTest : public QObject {
    Q_OBJECT
private slots:
    void init() { QSettings().clear(); }

    void chatVectorFromRunCheckpointsOpensOnModelsPage() {
        QTemporaryDir dir;
        QDir().mkpath(dir.filePath("model"));
        const QString model = uitest::makeModelWithTokenizer(dir.filePath("model"));
        const QString db = dir.filePath("lathe.db");
        uitest::CliResult trained = uitest::trainTinyRun(model, dir.path(), db, "domain");
        QVERIFY2(trained.code == 0, qPrintable(trained.err));
        const auto store = lathe::RunStore::open(db.toStdString());
        const qint64 run = store->list_runs().back().id;
        const auto checkpoints = store->checkpoints(run);
        QVERIFY(checkpoints.size() >= 2);
        const QString last = QString("run:%1:%2").arg(run).arg(checkpoints.back().step);
        const QString first = QString("run:%1:%2").arg(run).arg(checkpoints.front().step);

        MainWindow window;
        window.resize(1280, 900);
        window.show();
        window.runStore()->setPath(db);
        MergePage* page = window.mergePage();
        window.showPage(page);
        // Every checkpoint of the run is offered as an input.
        QVERIFY2(page->modelChoices().contains(last) && page->modelChoices().contains(first), qPrintable(page->modelChoices().join(", ")));

        // The named recipe: target + 0.5 · (finetuned − base), as task_arithmetic.
        const QString out = dir.filePath("merged");
        page->setChatVector(last, first, model, 0.5);
        page->setOutputDir(out);
        const QString expected = QString("merge_method: task_arithmetic\nbase_model: \"%1\"\nmodels:\n"
                                         "  - model: \"%2\"\n    parameters:\n      weight: 1\n"
                                         "  - model: \"%3\"\n    parameters:\n      weight: 0.5\n"
                                         "parameters:\n  normalize: false\n")
                                     .arg(model, last, first);
        QCOMPARE(page->recipeText(), expected);
        // Two LoRA checkpoints, each merged into its base first.
        QVERIFY2(page->estimateText().contains("3 inputs") && page->estimateText().contains("2 LoRA checkpoint"), qPrintable(page->estimateText()));

        QSignalSpy done(page, &MergePage::finished);
        QSignalSpy merged(page, &MergePage::merged);
        page->start();
        QVERIFY(page->isRunning());
        QVERIFY(done.wait(180000));
        QVERIFY2(page->errorText().isEmpty(), qPrintable(page->errorText()));
        QCOMPARE(merged.count(), 1);
        QCOMPARE(page->mergedPath(), out);
        QCOMPARE(page->progressFraction(), 1.0);
        // The recipe `lathe merge` was given is the one shown, kept in the output.
        QCOMPARE(readAll(out + "/mergekit_config.yml"), expected);
        QVERIFY(QFile::exists(out + "/tokenizer.json"));
        // The result opens on the Models page.
        QCOMPARE(window.currentPage(), static_cast<QWidget*>(window.modelsPage()));
        QCOMPARE(window.modelsPage()->currentModel(), out);
        // A merge this small measures the process start, not the disk: the estimate keeps its stated rate.
        QVERIFY(!QSettings().contains("merge/bytesPerSecond"));
        window.showPage(page);
        QVERIFY2(page->estimateText().contains("a typical SSD"), qPrintable(page->estimateText()));
        QVERIFY(uitest::saveScreenshot(&window, "merge_page"));

        // Greedy soup of the base and the two checkpoints, judged on the run's own corpus.
        const QString soup = dir.filePath("soup");
        page->setRecipeKind(MergePage::GreedySoupRecipe);
        for (const QString& ingredient : {model, first, last}) page->addIngredient(ingredient);
        page->setHeldOut(dir.filePath("corpus.jsonl"));
        page->setOutputDir(soup);
        QCOMPARE(page->soupArguments(), (QStringList{"soup", model, first, last, "--held-out", dir.filePath("corpus.jsonl"), "--output", soup}));
        page->start();
        QVERIFY(page->isRunning());
        QVERIFY(done.wait(300000));
        QVERIFY2(page->errorText().isEmpty(), qPrintable(page->errorText()));
        QCOMPARE(page->mergedPath(), soup);
        QCOMPARE(window.modelsPage()->currentModel(), soup);
        // One row per ingredient, best first; the first starts the soup, each other is kept or left out.
        QCOMPARE(page->soupResultRows(), 3);
        double previous = 0;
        for (int r = 0; r < 3; ++r) {
            const QStringList row = page->soupResultRow(r);
            QVERIFY2(row[1].toDouble() >= previous, qPrintable(row.join(" | ")));
            previous = row[1].toDouble();
            QVERIFY2(r == 0 ? row[2] == "kept" && row[3].startsWith("—") : (row[2] == "kept" || row[2] == "left out") && row[3].toDouble() > 0,
                     qPrintable(row.join(" | ")));
        }
        QVERIFY2(page->soupSummary().startsWith("Greedy soup of "), qPrintable(page->soupSummary()));
        window.showPage(page);
        QVERIFY(uitest::saveScreenshot(&window, "merge_page_soup"));
    }

    void eachMethodOffersItsParameters() {
        QTemporaryDir dir;
        MainWindow window;
        window.resize(1280, 900);
        window.show();
        MergePage* page = window.mergePage();
        window.showPage(page);
        const QString llama = uitest::hfModel("llama");
        page->setMethod("linear");
        page->addInput(llama, 0.25);
        page->addInput(llama, 0.75);
        QVERIFY(page->columnShown("Weight"));
        QVERIFY(!page->columnShown("Density"));
        QVERIFY(!page->columnShown("Gamma"));
        QCOMPARE(page->recipeText(), QString("merge_method: linear\nmodels:\n"
                                             "  - model: \"%1\"\n    parameters:\n      weight: 0.25\n"
                                             "  - model: \"%1\"\n    parameters:\n      weight: 0.75\n"
                                             "parameters:\n  normalize: true\n")
                                         .arg(llama));
        page->setMethod("ties");
        QVERIFY(page->columnShown("Density"));
        QVERIFY(!page->columnShown("Gamma"));
        page->setBaseModel(llama);
        page->setDtype("bfloat16");
        QCOMPARE(page->recipeText(), QString("merge_method: ties\nbase_model: \"%1\"\nmodels:\n"
                                             "  - model: \"%1\"\n    parameters:\n      weight: 0.25\n      density: 1\n"
                                             "  - model: \"%1\"\n    parameters:\n      weight: 0.75\n      density: 1\n"
                                             "parameters:\n  normalize: true\ndtype: bfloat16\n")
                                         .arg(llama));
        page->setMethod("breadcrumbs");
        QVERIFY(page->columnShown("Gamma"));
        QVERIFY(page->recipeText().contains("gamma: 0.01"));
        QVERIFY(page->recipeText().contains("normalize: false"));  // breadcrumbs' own default
        page->setMethod("slerp");
        QVERIFY(!page->columnShown("Weight"));
        QVERIFY(page->recipeText().endsWith("parameters:\n  t: 0.5\ndtype: bfloat16\n"));

        // The estimate comes from the files: two inputs (the base listed among the models is one), each
        // the model's size on disk.
        const QString size = formatBytes(QFileInfo(llama + "/model.safetensors").size());
        QVERIFY2(page->estimateText().startsWith("2 inputs"), qPrintable(page->estimateText()));
        QVERIFY2(page->estimateText().contains(size), qPrintable(page->estimateText() + " / " + size));

        // A recipe lathe merge refuses shows its error and writes nothing.
        page->clearInputs();
        page->setMethod("task_arithmetic");
        page->setBaseModel(llama);
        page->addInput(uitest::hfModel("qwen2"), 1.0);
        page->setOutputDir(dir.filePath("bad"));
        QSignalSpy done(page, &MergePage::finished);
        page->start();
        QVERIFY(done.wait(60000));
        QVERIFY2(page->errorText().contains("model_type"), qPrintable(page->errorText() + " / " + page->findChild<QPlainTextEdit*>("mergeLog")->toPlainText()));
        QVERIFY(!QFileInfo::exists(dir.filePath("bad")));
        QCOMPARE(window.currentPage(), static_cast<QWidget*>(page));
    }
};

int runMergePageTests(int argc, char** argv) {
    MergePageTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_merge.moc"
