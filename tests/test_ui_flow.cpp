// The whole Lathe Studio flow offscreen, with the real `lathe` doing the work: open the demo model →
// open the demo dataset on the Datasets page and send it to Train → configure LoRA → start → step
// points on the chart → a checkpoint → stop → resume → export from the Runs page through the wizard
// (merged and PEFT) → the exported folders load with `lathe info` and `lathe generate`. Also: the
// wizard refuses an existing output, offers GGUF exactly when `lathe export --help` lists it, and a
// cancelled export leaves nothing behind. Screenshots of every wizard page at 1280×800.
#include <QCheckBox>
#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QJsonDocument>
#include <QLabel>
#include <QPlainTextEdit>
#include <QTemporaryDir>
#include <QtTest>

#include "core/runs/run_store.h"
#include "core/train/train_config.h"
#include "tests/ui_test_support.h"
#include "ui/export_wizard.h"
#include "ui/main_window.h"
#include "ui/pages/datasets_page.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/dataset_table_model.h"
#include "ui/pages/runs_page.h"
#include "ui/pages/train_page.h"
#include "ui/studio_run_store.h"
#include "ui/training_session.h"

namespace {

const QString kResources = QStringLiteral(LATHE_SOURCE_DIR "/resources");
const QString kDemoModel = kResources + "/demo-model";
const QString kDemoData = kResources + "/demo-data/train.jsonl";

template <typename T>
T* child(QObject* parent, const char* name) {
    T* w = parent->findChild<T*>(name);
    if (!w) qFatal("no child %s", name);
    return w;
}

QString screenshotPath(const QString& name) {
    const QString suffix = QGuiApplication::platformName() == "offscreen" ? QString() : "_" + QGuiApplication::platformName();
    return uitest::screenshotDir() + "/" + name + suffix + ".png";
}

// Nothing but `name` itself may appear in `dir` for an export to `dir/name` (no hidden staging folder).
QStringList leftovers(const QString& dir, const QString& name) {
    QStringList out;
    for (const QString& e : QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot))
        if (e != name) out << e;
    return out;
}

}  // namespace

class StudioFlowTest : public QObject {
    Q_OBJECT
    QTemporaryDir home_;
    QString store() const { return home_.filePath("lathe.db"); }
    qint64 run_ = 0;

    // Walks the wizard from its current page to the result, screenshots on the way when `shots`.
    QString exportThroughWizard(ExportWizard* wizard, const QString& format, const QString& output, bool shots) {
        wizard->resize(1280, 800);
        QTest::qWait(50);
        if (shots) wizard->grab().save(screenshotPath("export_1_run"));
        wizard->next();
        wizard->setFormat(format);
        if (shots) wizard->grab().save(screenshotPath("export_2_format"));
        wizard->next();
        wizard->setOutputDir(output);
        if (shots) wizard->grab().save(screenshotPath("export_3_options"));
        wizard->next();  // starts `lathe export`
        if (wizard->currentId() != ExportWizard::ProgressPage) return "did not reach the progress page";
        for (int waited = 0; wizard->isExporting() && waited < 120000; waited += 50) QTest::qWait(50);
        if (shots) wizard->grab().save(screenshotPath("export_4_progress"));
        if (wizard->exportedPath().isEmpty()) return "export failed: " + wizard->errorText() + " " + child<QPlainTextEdit>(wizard, "exportLog")->toPlainText();
        wizard->next();
        if (shots) {
            QTest::qWait(50);
            wizard->grab().save(screenshotPath("export_5_result"));
        }
        return {};
    }

private slots:
    void initTestCase() {
        QVERIFY(home_.isValid());
        qputenv("LATHE_HOME", home_.path().toUtf8());  // the trainer's and the GUI's default run store
        QSettings().clear();
    }

    void wholeFlow() {
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.runsPage()->setStorePath(store());

        // Open model → open dataset (Datasets page) → Train on This.
        QVERIFY(window.openModel(kDemoModel));
        DatasetsPage* data = window.datasetsPage();
        window.showPage(data);
        QCOMPARE(data->model(), kDemoModel);
        QVERIFY(data->openFile(kDemoData));
        QTRY_COMPARE_WITH_TIMEOUT(data->tableModel()->rowCount(), 256, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(!data->report().isEmpty(), 60000);
        QVERIFY2(data->report()["type"].toString() == "pretokenized", QJsonDocument(data->report()).toJson().constData());
        QVERIFY2(data->renderMessage().contains("48 tokens, 48 trained"), qPrintable(data->renderMessage()));
        QTest::mouseClick(child<QPushButton>(data, "trainOnDataset"), Qt::LeftButton);
        TrainPage* train = window.trainPage();
        QCOMPARE(window.currentPage(), static_cast<QWidget*>(train));

        // Configure LoRA: the Quick LoRA preset, small steps so checkpoints come quickly.
        train->applyPreset("Quick LoRA");
        QCOMPARE(train->method(), TrainPage::Method::Lora);
        child<QLineEdit>(train, "outputDir")->setText(home_.filePath("flow-out"));
        lathe::TrainConfig c = train->config();
        QCOMPARE(QString::fromStdString(c.base_model), kDemoModel);
        QCOMPARE(QString::fromStdString(c.datasets.at(0).path), kDemoData);
        c.sequence_len = 64;
        c.micro_batch_size = 4;
        c.gradient_accumulation_steps = 1;
        c.warmup_steps = 0;
        c.num_epochs = 1;
        c.learning_rate = 0.01;
        c.save_steps = 3;
        c.device = "cpu";
        train->setConfig(c);
        train->validateNow();
        QVERIFY2(train->problems().isEmpty(), qPrintable(train->problems().join("\n")));

        // Start → steps on the chart → a checkpoint → stop → resume.
        MonitorPage* monitor = window.monitorPage();
        QCOMPARE(window.runStore()->filePath(), store());  // the Monitor reads, and trains into, the window's store
        QTest::mouseClick(child<QPushButton>(train, "startButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(monitor->lossPointCount() >= 2, 60000);
        QTRY_VERIFY2_WITH_TIMEOUT(monitor->checkpointMarkerCount() >= 1, qPrintable(monitor->logText()), 60000);
        run_ = monitor->currentRunId();
        QVERIFY(run_ > 0);
        QTest::mouseClick(child<QPushButton>(monitor, "stopButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!monitor->session()->isRunning(), 60000);
        const int stoppedAt = monitor->lossPointCount();
        QTest::mouseClick(child<QPushButton>(monitor, "resumeButton"), Qt::LeftButton);
        QTRY_VERIFY2_WITH_TIMEOUT(monitor->lossPointCount() >= stoppedAt + 2, qPrintable(monitor->logText()), 60000);
        QVERIFY2(monitor->logText().contains(QString("Resumed at step %1").arg(stoppedAt)), qPrintable(monitor->logText()));
        QTest::mouseClick(child<QPushButton>(monitor, "stopButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!monitor->session()->isRunning(), 60000);
        auto checkpoints = lathe::RunStore::open(store().toStdString())->checkpoints(run_);
        QVERIFY(!checkpoints.empty());

        // Export from the Runs page: the wizard opens on this run at its latest checkpoint.
        RunsPage* runs = window.runsPage();
        window.showPage(runs);
        runs->reload();
        runs->selectRun(run_);
        auto* exportButton = child<QPushButton>(runs, "exportRun");
        QVERIFY(exportButton->isEnabled());
        QTest::mouseClick(exportButton, Qt::LeftButton);
        ExportWizard* wizard = window.findChild<ExportWizard*>();
        QVERIFY(wizard);
        QCOMPARE(wizard->runId(), run_);
        QCOMPARE(wizard->checkpoint(), QString("latest"));
        const QString merged = home_.filePath("exports/merged");
        const QString error = exportThroughWizard(wizard, "merged", merged, true);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(wizard->currentId(), int(ExportWizard::ResultPage));
        QCOMPARE(wizard->exportedPath(), merged);
        QVERIFY(wizard->usageText().contains("AutoModelForCausalLM.from_pretrained(\"" + merged + "\")"));
        QVERIFY(leftovers(home_.filePath("exports"), "merged").isEmpty());
        // The export was checked against the trained model (on by default) and the result page says how.
        QVERIFY(wizard->exportArguments().contains("--verify"));
        QVERIFY2(!wizard->checkText().isEmpty(), "no export_verify result shown");
        QCOMPARE(child<QLabel>(wizard, "exportCheck")->text(), wizard->checkText());
        wizard->accept();

        // The export is a model folder `lathe` loads and generates from.
        uitest::CliResult info = uitest::runLathe({"info", merged});
        QVERIFY2(info.code == 0, qPrintable(info.err));
        QVERIFY2(info.out.contains("qwen2") || info.out.contains("Qwen2"), qPrintable(info.out));
        uitest::CliResult gen = uitest::runLathe({"generate", "--model", merged, "--prompt", "100 101 102", "--max-new-tokens", "3", "--greedy"});
        QVERIFY2(gen.code == 0, qPrintable(gen.err));

        // And as a PEFT adapter, from the File menu's action at an earlier checkpoint.
        auto* second = window.openExportWizard(run_);
        auto* cp = child<QComboBox>(second, "exportCheckpoint");
        QVERIFY(cp->count() >= 2);
        cp->setCurrentIndex(cp->count() - 1);  // the first checkpoint
        QCOMPARE(second->checkpoint(), QString::number(checkpoints.front().step));
        const QString adapter = home_.filePath("exports/adapter");
        const QString error2 = exportThroughWizard(second, "peft", adapter, false);
        QVERIFY2(error2.isEmpty(), qPrintable(error2));
        QVERIFY(QFileInfo::exists(adapter + "/adapter_config.json"));
        QVERIFY(QFileInfo::exists(adapter + "/adapter_model.safetensors"));
        uitest::CliResult withAdapter = uitest::runLathe({"generate", "--model", kDemoModel, "--adapter", adapter, "--prompt", "100 101 102", "--max-new-tokens", "3", "--greedy"});
        QVERIFY2(withAdapter.code == 0, qPrintable(withAdapter.err));
        second->accept();
    }

    void wizardRefusesAnExistingOutput() {
        QVERIFY(run_ > 0);
        auto runs = lathe::RunStore::open(store().toStdString());
        ExportWizard wizard(*runs, run_);
        wizard.show();
        wizard.next();
        wizard.next();
        const QString existing = home_.filePath("exports/merged");
        wizard.setOutputDir(existing);
        wizard.next();
        QCOMPARE(wizard.currentId(), int(ExportWizard::OptionsPage));
        QVERIFY2(child<QLabel>(&wizard, "optionsError")->text().contains("exists"), qPrintable(child<QLabel>(&wizard, "optionsError")->text()));
        child<QLineEdit>(&wizard, "exportShardSize")->setText("lots");
        wizard.setOutputDir(home_.filePath("exports/other"));
        wizard.next();
        QCOMPARE(wizard.currentId(), int(ExportWizard::OptionsPage));
        QVERIFY(child<QLabel>(&wizard, "optionsError")->text().contains("Shard size 'lots'"));
    }

    void ggufOfferedOnlyWhenTheCliListsIt() {
        auto runs = lathe::RunStore::open(store().toStdString());
        ExportWizard wizard(*runs, run_);
        uitest::CliResult help = uitest::runLathe({"export", "--help"});
        QCOMPARE(help.code, 0);
        QTest::qWait(200);
        QTRY_VERIFY_WITH_TIMEOUT(!wizard.findChildren<QProcess*>().size(), 10000);  // the wizard's own --help answered
        const bool listed = (help.out + help.err).split('\n').filter("--format").join("").contains("gguf", Qt::CaseInsensitive);
        QCOMPARE(wizard.ggufOffered(), listed);
        QCOMPARE(!child<QRadioButton>(&wizard, "formatGguf")->isHidden(), listed);
        if (listed) {
            // The quantization types are the ones the CLI's --gguf-type lists.
            auto* quant = child<QComboBox>(&wizard, "ggufQuant");
            QVERIFY(quant->count() >= 2);
            for (int i = 0; i < quant->count(); ++i) QVERIFY2((help.out + help.err).contains(quant->itemText(i)), qPrintable(quant->itemText(i)));
            QVERIFY((help.out + help.err).contains("--gguf-type"));
        }
    }

    void cancelledExportLeavesNothing() {
        auto runs = lathe::RunStore::open(store().toStdString());
        ExportWizard wizard(*runs, run_);
        wizard.show();
        wizard.next();
        wizard.next();
        const QString out = home_.filePath("cancelled/merged");
        QDir().mkpath(home_.filePath("cancelled"));
        wizard.setOutputDir(out);
        wizard.next();
        QCOMPARE(wizard.currentId(), int(ExportWizard::ProgressPage));
        QVERIFY(wizard.isExporting());
        QTest::mouseClick(child<QPushButton>(&wizard, "cancelExport"), Qt::LeftButton);
        QVERIFY(!wizard.isExporting());
        QTRY_VERIFY(wizard.exportedPath().isEmpty());
        QVERIFY(!QFileInfo::exists(out));
        QVERIFY2(leftovers(home_.filePath("cancelled"), "merged").isEmpty(), qPrintable(leftovers(home_.filePath("cancelled"), "merged").join(",")));
        QVERIFY(!wizard.button(QWizard::NextButton)->isEnabled());  // nothing to show on the result page
    }
};

int runStudioFlowTests(int argc, char** argv) {
    StudioFlowTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_flow.moc"
