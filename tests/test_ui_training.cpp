// The Train and Monitor pages driven offscreen with the real `lathe` binary on the bundled demo model:
// configure LoRA → start → steps on the chart → checkpoint marker → stop (checkpoint, run stopped in the
// store) → resume (more steps) ; YAML save/load; validation messages; a failing and a killed trainer;
// closing with a run in progress. Screenshots go to the build folder (docs/screenshots with
// LATHE_UPDATE_SCREENSHOTS=1) for people to look at.
#include <csignal>
#include <optional>

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTableView>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <QGuiApplication>

#include "core/runs/run_store.h"
#include "core/train/memory_estimate.h"
#include "core/train/train_config.h"
#include "tests/ui_screenshots.h"
#include "ui/device_memory.h"
#include "ui/main_window.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/runs_page.h"
#include "ui/pages/runs_table_model.h"
#include "ui/pages/train_page.h"
#include "ui/pages/train_ranks.h"
#include "ui/studio_run_store.h"

namespace {

const QString kResources = QStringLiteral(LATHE_SOURCE_DIR "/resources");
const QString kDemoModel = kResources + "/demo-model";
const QString kDemoData = kResources + "/demo-data/train.jsonl";

template <typename T>
T* child(QWidget* parent, const char* name) {
    T* w = parent->findChild<T*>(name);
    if (!w) qFatal("no child %s", name);
    return w;
}

// Screenshots taken under Xvfb (xcb) get their own names beside the offscreen ones.
QString screenshot(const QString& name) {
    const QString suffix = QGuiApplication::platformName() == "offscreen" ? QString() : "_" + QGuiApplication::platformName();
    return uitest::screenshotDir() + "/" + name + suffix + ".png";
}

// Closes the next message box that appears, pressing the button whose text contains `button`.
void answerNextMessageBox(const QString& button, QString* text = nullptr) {
    QTimer::singleShot(50, [button, text] {
        for (QWidget* w : QApplication::topLevelWidgets())
            if (auto* box = qobject_cast<QMessageBox*>(w); box && box->isVisible()) {
                if (text) *text = box->text() + "\n" + box->informativeText();
                for (QAbstractButton* b : box->buttons())
                    if (b->text().contains(button)) {
                        b->click();
                        return;
                    }
            }
        answerNextMessageBox(button, text);  // not shown yet
    });
}

}  // namespace

class TrainingFlowTest : public QObject {
    Q_OBJECT
    QTemporaryDir home_;
    QString store() const { return home_.filePath("lathe.db"); }

    // The demo model and data, LoRA (Quick LoRA preset), small steps so checkpoints come quickly.
    void configureLora(TrainPage* page, const QString& output) {
        page->applyPreset("Quick LoRA");
        child<QLineEdit>(page, "modelFolder")->setText(kDemoModel);
        child<QLineEdit>(page, "datasets")->setText(kDemoData);
        child<QLineEdit>(page, "outputDir")->setText(output);
        lathe::TrainConfig c = page->config();
        c.sequence_len = 64;
        c.micro_batch_size = 4;
        c.gradient_accumulation_steps = 1;
        c.warmup_steps = 0;
        c.num_epochs = 3;
        c.learning_rate = 0.01;
        c.save_steps = 3;
        c.val_set_size = 0.05;
        c.eval_steps = 8;
        c.device = "cpu";
        page->setConfig(c);
        page->validateNow();
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName("LatheTest");
        QCoreApplication::setApplicationName("LatheStudioTrainingTest");
        QSettings().clear();  // each run starts from the defaults, not the last test run's config
        QVERIFY(home_.isValid());
        qputenv("LATHE_HOME", home_.path().toUtf8());  // the trainer's and the GUI's default run store
        qputenv("LATHE_CLI", LATHE_CLI);
    }

    void yamlSaveLoadRoundTrip() {
        TrainPage page;
        page.setMethod(TrainPage::Method::Dora);
        child<QLineEdit>(&page, "modelFolder")->setText(kDemoModel);
        child<QLineEdit>(&page, "datasets")->setText(kDemoData + ";" + kResources + "/demo-data/other.jsonl");
        child<QLineEdit>(&page, "outputDir")->setText("/tmp/some out: dir");
        child<QLineEdit>(&page, "learningRate")->setText("3.5e-4");
        lathe::TrainConfig c = page.config();
        c.lora_r = 12;
        c.lora_alpha = 24.5;
        c.lora_dropout = 0.1;
        c.lora_target_modules = {"q_proj", "k_proj"};
        c.num_epochs = 2;
        c.warmup_steps = 5;
        c.lr_scheduler = "linear";
        c.val_set_size = 0.125;
        c.seed = 7;
        c.loraplus_lr_ratio = 16;  // not on the form: kept from what was loaded
        c.datasets[1].weight = 0.25;  // dataset keys the form does not show are kept too
        c.datasets[1].roles_to_train = {"assistant", "tool"};
        c.strict = true;
        page.setConfig(c);
        const QString file = home_.filePath("roundtrip.yaml");
        QVERIFY(page.saveConfig(file));

        // What `lathe train` reads is what was set.
        lathe::TrainConfig r = lathe::read_train_config(file.toStdString());
        QCOMPARE(QString::fromStdString(r.adapter), QString("lora"));
        QVERIFY(r.peft_use_dora);
        QVERIFY(!r.peft_use_rslora);
        QCOMPARE(r.lora_r, 12);
        QCOMPARE(r.lora_alpha, 24.5);
        QCOMPARE(r.lora_dropout, 0.1);
        QCOMPARE(r.lora_target_modules, (std::vector<std::string>{"q_proj", "k_proj"}));
        QCOMPARE(r.learning_rate, 3.5e-4);
        QCOMPARE(r.num_epochs, 2);
        QCOMPARE(r.warmup_steps, 5);
        QCOMPARE(QString::fromStdString(r.lr_scheduler), QString("linear"));
        QCOMPARE(r.val_set_size, 0.125);
        QCOMPARE(r.seed, 7u);
        QCOMPARE(r.loraplus_lr_ratio, 16.0);
        QCOMPARE(QString::fromStdString(r.output_dir), QString("/tmp/some out: dir"));
        QCOMPARE(r.datasets.size(), 2u);
        QCOMPARE(QString::fromStdString(r.datasets[1].path), kResources + "/demo-data/other.jsonl");
        QCOMPARE(r.datasets[1].weight, 0.25);
        QCOMPARE(r.datasets[1].roles_to_train, (std::vector<std::string>{"assistant", "tool"}));
        QVERIFY(r.strict);
        QCOMPARE(QString::fromStdString(r.base_model), kDemoModel);

        // And a fresh page loads it back into the same form.
        TrainPage again;
        QVERIFY(again.loadConfig(file));
        QCOMPARE(again.method(), TrainPage::Method::Dora);
        QCOMPARE(again.yamlText(), page.yamlText());
        QCOMPARE(again.config().loraplus_lr_ratio, 16.0);
        QCOMPARE(child<QLineEdit>(&again, "learningRate")->text(), QString("0.00035"));

        // Settings persist: a new page starts from the configuration last saved.
        TrainPage later;
        QCOMPARE(later.yamlText(), page.yamlText());
    }

    void methodsShowOnlyTheirOptions() {
        TrainPage page;
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        auto visibleTitles = [&] {
            QStringList t;
            for (QGroupBox* g : page.findChildren<QGroupBox*>())
                if (g->isVisible()) t << g->title();
            return t.join("|");
        };
        child<QLineEdit>(&page, "datasets")->setText(kDemoData);
        page.setMethod(TrainPage::Method::Lora);
        QVERIFY2(visibleTitles().contains("Adapter: LoRA"), qPrintable(visibleTitles()));
        QVERIFY(!visibleTitles().contains("Full finetune"));
        page.setMethod(TrainPage::Method::Full);
        QVERIFY(!visibleTitles().contains("Adapter"));
        QVERIFY(visibleTitles().contains("Full finetune"));
        QVERIFY(!page.yamlText().contains("adapter:"));
        page.setMethod(TrainPage::Method::ContinuedPretraining);
        QVERIFY(!visibleTitles().contains("Adapter"));
        QVERIFY(page.yamlText().contains("type: text"));
        QStringList methods;
        auto* combo = child<QComboBox>(&page, "method");
        for (int i = 0; i < combo->count(); ++i) methods << combo->itemText(i);
        QVERIFY(!methods.join(",").contains("QLoRA"));  // QLoRA is a LoRA-family option, not a method of its own

        // QLoRA: the adapter box's 4-bit option writes adapter: qlora with load_in_4bit, and full
        // finetuning (which cannot train 4-bit weights) turns it off again.
        page.setMethod(TrainPage::Method::Dora);
        auto* qlora = child<QCheckBox>(&page, "qlora");
        QVERIFY(qlora->isVisible());
        qlora->setChecked(true);
        QVERIFY2(page.yamlText().contains("adapter: qlora") && page.yamlText().contains("load_in_4bit: true"), qPrintable(page.yamlText()));
        QVERIFY2(visibleTitles().contains("Adapter: QLoRA (DoRA)"), qPrintable(visibleTitles()));
        page.setMethod(TrainPage::Method::Full);
        QVERIFY(!page.yamlText().contains("adapter:"));
        QVERIFY(!page.yamlText().contains("load_in_4bit"));
        page.applyPreset("QLoRA");
        QCOMPARE(page.method(), TrainPage::Method::Lora);
        QVERIFY(qlora->isChecked());
        QCOMPARE(page.config().adapter, std::string("qlora"));
    }

    void validationShowsKeyAndLine() {
        TrainPage page;
        page.show();
        auto* yaml = child<QPlainTextEdit>(&page, "yamlEditor");
        yaml->setPlainText("base_model: " + kDemoModel + "\ndatasets: [" + kDemoData + "]\nadapter: lora\nlora_target_linear: true\nlearning_rate: -1\n");
        page.validateNow();
        QVERIFY2(page.problems().join("\n").contains("run.yaml:5: learning_rate: must be > 0"), qPrintable(page.problems().join("\n")));
        QVERIFY(child<QLabel>(&page, "problems")->text().contains("learning_rate: must be &gt; 0"));
        QVERIFY(!child<QPushButton>(&page, "startButton")->isEnabled());
        QVERIFY(child<QLineEdit>(&page, "learningRate")->styleSheet().contains("border"));

        // Fixing the text clears it, and the form follows the text.
        yaml->setPlainText("base_model: " + kDemoModel + "\ndatasets: [" + kDemoData + "]\nadapter: lora\nlora_target_linear: true\nlearning_rate: 0.001\n");
        page.validateNow();
        QVERIFY2(page.problems().isEmpty(), qPrintable(page.problems().join("\n")));
        QCOMPARE(child<QLineEdit>(&page, "learningRate")->text(), QString("0.001"));
        QVERIFY(child<QPushButton>(&page, "startButton")->isEnabled());

        // Typed into the form: a model folder that is not one, a learning rate that is not a number.
        child<QLineEdit>(&page, "modelFolder")->setText("/nonexistent/model");
        child<QLineEdit>(&page, "learningRate")->setText("abc");
        page.validateNow();
        const QString all = page.problems().join("\n");
        QVERIFY2(all.contains("run.yaml:1: base_model: /nonexistent/model is not a folder"), qPrintable(all));
        QVERIFY2(all.contains("learning_rate: 'abc' is not a number"), qPrintable(all));
        QVERIFY(!child<QPushButton>(&page, "startButton")->isEnabled());
    }

    void nvidiaSmiOutputIsRead() {
        // `nvidia-smi --query-gpu=index,name,memory.free,memory.total --format=csv,noheader,nounits`
        auto gpus = DeviceMemory::parseNvidiaSmi("0, NVIDIA H100 80GB HBM3, 80557, 81559\n1, NVIDIA A10, 1024, 23028\n");
        QCOMPARE(gpus.size(), 2);
        QCOMPARE(gpus[0].name, QString("NVIDIA H100 80GB HBM3"));
        QCOMPARE(gpus[1].index, 1);
        QCOMPARE(gpus[1].free_gib, 1.0);
        QCOMPARE(gpus[0].compute_major, -1);  // an older nvidia-smi without compute_cap
        // With compute_cap, which decides bf16: auto in the memory estimate.
        gpus = DeviceMemory::parseNvidiaSmi("0, NVIDIA H100 80GB HBM3, 80557, 81559, 9.0\n1, Tesla V100-SXM2-16GB, 16000, 16160, 7.0\n");
        QCOMPARE(gpus.size(), 2);
        QCOMPARE(gpus[0].compute_major, 9);
        QCOMPARE(gpus[1].compute_major, 7);
        QVERIFY(DeviceMemory::cpuAvailableGiB() > 0);
    }

    void demoOpensReadyWithAMemoryEstimate() {
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        TrainPage* page = window.trainPage();
        QVERIFY(page->loadDemo(kResources, "run.yaml"));  // the tiny model: resources/smollm2-135m-instruct may be absent
        window.showPage(page);
        QVERIFY2(page->problems().isEmpty(), qPrintable(page->problems().join("\n")));
        QCOMPARE(page->method(), TrainPage::Method::Lora);
        // The demo model is tiny: the dry run says "0.00 GiB", which is an answer (unknown is < 0).
        QTRY_VERIFY2_WITH_TIMEOUT(page->estimatedGiB() >= 0, qPrintable(page->memoryText()), 30000);
        QVERIFY2(page->memoryText().contains("free system memory (CPU)") && page->memoryText().contains("fits"), qPrintable(page->memoryText()));
        // The page shows core's estimate (what `lathe train --dry-run` prints), computed in-process for the
        // CPU in float32, for LoRA and for QLoRA.
        auto expectCoreEstimate = [&] {
            const double want = lathe::estimate_training_memory(page->config(), false).total / (1024.0 * 1024 * 1024);
            QTRY_VERIFY2(std::abs(page->estimatedGiB() - want) < 1e-12, qPrintable(QString("%1 vs %2").arg(page->estimatedGiB()).arg(want)));
        };
        expectCoreEstimate();
        child<QCheckBox>(page, "qlora")->setChecked(true);
        page->validateNow();
        QVERIFY2(page->problems().isEmpty(), qPrintable(page->problems().join("\n")));
        expectCoreEstimate();
        QVERIFY(child<QLabel>(page, "memoryEstimate")->toolTip().contains("weights"));
        child<QCheckBox>(page, "qlora")->setChecked(false);
        page->validateNow();
        QTest::qWait(50);
        QVERIFY(window.grab().save(screenshot("train_page")));
    }

    // Preference tuning from the form: each objective shows only its options, the YAML holds only keys that
    // apply (so `lathe train` takes it), and the data must hold pairs for DPO and must not for SFT.
    void preferenceObjectivesShowTheirOptionsAndCheckTheData() {
        QTemporaryDir dir;
        QFile pairs(dir.filePath("pairs.jsonl"));
        QVERIFY(pairs.open(QIODevice::WriteOnly));
        pairs.write("{\"prompt\": \"The sky is\", \"chosen\": \" blue.\", \"rejected\": \" green.\"}\n");
        pairs.close();
        TrainPage page;
        page.resize(1280, 800);
        page.show();
        configureLora(&page, home_.filePath("dpo-out"));
        auto* objective = child<QComboBox>(&page, "objective");
        auto* options = child<QGroupBox>(&page, "preferenceOptions");
        QVERIFY(!options->isVisibleTo(&page));
        page.validateNow();
        QTRY_VERIFY2(page.estimatedGiB() >= 0, qPrintable(page.memoryText()));
        const double supervised = page.estimatedGiB();

        objective->setCurrentIndex(objective->findData("dpo"));
        page.validateNow();
        QVERIFY(options->isVisibleTo(&page));
        QVERIFY(child<QDoubleSpinBox>(&page, "dpoBeta")->isVisibleTo(&page));
        QVERIFY(!child<QDoubleSpinBox>(&page, "orpoAlpha")->isVisibleTo(&page));
        QVERIFY(!child<QDoubleSpinBox>(&page, "simpoGamma")->isVisibleTo(&page));
        QVERIFY(page.yamlText().contains("rl: dpo"));
        // Held-out pairs are evaluated as TRL evaluates them.
        auto* share = child<QDoubleSpinBox>(&page, "validationShare");
        QVERIFY(share->isEnabled());
        share->setValue(0.1);
        page.validateNow();
        QVERIFY(page.yamlText().contains("val_set_size: 0.1"));
        share->setValue(0);
        page.validateNow();
        QVERIFY(!page.yamlText().contains("val_set_size"));
        // The demo data is token ids, not pairs.
        QVERIFY2(page.problems().join("\n").contains("holds no preference pairs"), qPrintable(page.problems().join("\n")));

        child<QLineEdit>(&page, "datasets")->setText(pairs.fileName());
        child<QDoubleSpinBox>(&page, "dpoBeta")->setValue(0.25);
        child<QDoubleSpinBox>(&page, "labelSmoothing")->setValue(0.1);
        page.validateNow();
        QVERIFY2(page.problems().isEmpty(), qPrintable(page.problems().join("\n")));
        QVERIFY(page.yamlText().contains("dpo_beta: 0.25"));
        QVERIFY(page.yamlText().contains("dpo_loss_type: robust"));  // TRL's sigmoid loss has no label smoothing
        lathe::TrainConfig c = lathe::parse_train_config(page.yamlText().toStdString(), "run.yaml");
        QCOMPARE(QString::fromStdString(c.rl), QString("dpo"));
        QCOMPARE(c.dpo_beta, 0.25);
        // The estimate is core's, which counts chosen and rejected rows of each pair.
        const double want = lathe::estimate_training_memory(page.config(), false).total / (1024.0 * 1024 * 1024);
        QVERIFY2(std::abs(page.estimatedGiB() - want) < 1e-12, qPrintable(QString("%1 vs %2").arg(page.estimatedGiB()).arg(want)));
        // The shown estimate followed the objective: each pair's chosen and rejected rows share the batch.
        QVERIFY2(page.estimatedGiB() > supervised, qPrintable(QString("%1 vs %2 (supervised)").arg(page.estimatedGiB()).arg(supervised)));
        lathe::TrainConfig sft = page.config();
        sft.rl.clear();
        QVERIFY(lathe::estimate_training_memory(sft, false).activations < lathe::estimate_training_memory(page.config(), false).activations);
        QTest::qWait(50);
        QVERIFY(page.grab().save(screenshot("train_page_dpo")));

        // ORPO: its alpha, no beta; DPO's keys leave the YAML.
        objective->setCurrentIndex(objective->findData("orpo"));
        page.validateNow();
        QVERIFY(child<QDoubleSpinBox>(&page, "orpoAlpha")->isVisibleTo(&page));
        QVERIFY(!child<QDoubleSpinBox>(&page, "dpoBeta")->isVisibleTo(&page));
        QVERIFY(!page.yamlText().contains("dpo_beta") && !page.yamlText().contains("dpo_loss_type"));
        QVERIFY2(page.problems().isEmpty(), qPrintable(page.problems().join("\n")));
        QVERIFY(options->title().contains("ORPO"));
        // SimPO: beta, gamma and the chosen NLL weight.
        objective->setCurrentIndex(objective->findData("simpo"));
        page.validateNow();
        QVERIFY(child<QDoubleSpinBox>(&page, "simpoGamma")->isVisibleTo(&page));
        QVERIFY(child<QDoubleSpinBox>(&page, "cpoAlpha")->isVisibleTo(&page));
        QVERIFY(child<QDoubleSpinBox>(&page, "dpoBeta")->isVisibleTo(&page));
        QVERIFY2(page.problems().isEmpty(), qPrintable(page.problems().join("\n")));

        // Back to supervised with a file of pairs: the page says which objective the file needs.
        objective->setCurrentIndex(objective->findData(QString()));
        page.validateNow();
        QVERIFY(!options->isVisibleTo(&page));
        QVERIFY(!page.yamlText().contains("rl:"));
        QVERIFY2(page.problems().join("\n").contains("holds preference pairs"), qPrintable(page.problems().join("\n")));

        // A YAML with rl loads into the form.
        page.setConfig(c);
        QCOMPARE(objective->currentData().toString(), QString("dpo"));
        QCOMPARE(child<QDoubleSpinBox>(&page, "dpoBeta")->value(), 0.25);
    }

    // The model folder is read once, not on every keystroke, but a changed config.json is read again.
    void estimateFollowsAChangedModelFolder() {
        QTemporaryDir dir;
        for (const QString& f : QDir(kDemoModel).entryList(QDir::Files))
            QVERIFY(QFile::copy(QDir(kDemoModel).filePath(f), dir.filePath(f)));
        TrainPage page;
        configureLora(&page, home_.filePath("estimate-out"));
        child<QLineEdit>(&page, "modelFolder")->setText(dir.path());
        page.validateNow();
        QVERIFY2(page.problems().isEmpty(), qPrintable(page.problems().join("\n")));
        const double before = page.estimatedGiB();
        QVERIFY(before >= 0);

        QFile cfg(dir.filePath("config.json"));
        QVERIFY(cfg.open(QIODevice::ReadOnly));
        QString text = QString::fromUtf8(cfg.readAll());
        cfg.close();
        static const QRegularExpression layers(R"("num_hidden_layers"\s*:\s*\d+)");
        QVERIFY(text.contains(layers));
        text.replace(layers, "\"num_hidden_layers\": 400");
        QVERIFY(cfg.open(QIODevice::WriteOnly | QIODevice::Truncate));
        cfg.write(text.toUtf8());
        cfg.close();
        QVERIFY(cfg.open(QIODevice::ReadWrite));
        QVERIFY(cfg.setFileTime(QDateTime::currentDateTime().addSecs(10), QFileDevice::FileModificationTime));
        cfg.close();
        page.validateNow();
        const double want = lathe::estimate_training_memory(page.config(), false).total / (1024.0 * 1024 * 1024);
        QVERIFY2(page.estimatedGiB() > before && std::abs(page.estimatedGiB() - want) < 1e-12,
                 qPrintable(QString("%1 before, %2 after, core says %3").arg(before).arg(page.estimatedGiB()).arg(want)));
    }

    // The demo picks the real instruct model once it is imported (a config.json in
    // resources/smollm2-135m-instruct), and its run file reads with the chat dataset.
    void demoPicksSmolLM2WhenImported() {
        QTemporaryDir resources;
        QCOMPARE(TrainPage::demoConfigName(resources.path()), QString("run.yaml"));
        QVERIFY(QDir(resources.path()).mkpath("smollm2-135m-instruct"));
        QFile cfg(resources.filePath("smollm2-135m-instruct/config.json"));
        QVERIFY(cfg.open(QIODevice::WriteOnly));
        cfg.close();
        QCOMPARE(TrainPage::demoConfigName(resources.path()), QString("run-smollm2.yaml"));

        TrainPage page;
        QVERIFY(page.loadDemo(kResources, "run-smollm2.yaml"));
        const lathe::TrainConfig c = page.config();
        QCOMPARE(QString::fromStdString(c.base_model), kResources + "/smollm2-135m-instruct");
        QCOMPARE(c.datasets.size(), size_t(1));
        QCOMPARE(QString::fromStdString(c.datasets[0].path), kResources + "/demo-data/chat.jsonl");
        QCOMPARE(QString::fromStdString(c.datasets[0].type), QString("chat_template"));
        QCOMPARE(page.method(), TrainPage::Method::Lora);
    }

    void startStopResume() {
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        TrainPage* page = window.trainPage();
        MonitorPage* monitor = window.monitorPage();
        const QString output = home_.filePath("flow-out");
        configureLora(page, output);
        QVERIFY2(page->problems().isEmpty(), qPrintable(page->problems().join("\n")));

        QTest::mouseClick(child<QPushButton>(page, "startButton"), Qt::LeftButton);
        QCOMPARE(window.currentPage(), monitor);  // Start shows the Monitor
        QTRY_VERIFY_WITH_TIMEOUT(monitor->lossPointCount() >= 2, 60000);
        QTRY_VERIFY2_WITH_TIMEOUT(monitor->checkpointMarkerCount() >= 1, qPrintable(monitor->logText()), 60000);
        const qint64 run = monitor->currentRunId();
        QVERIFY(run > 0);

        QTest::mouseClick(child<QPushButton>(monitor, "stopButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!monitor->session()->isRunning(), 60000);
        const int stoppedAt = monitor->lossPointCount();
        {
            auto s = lathe::RunStore::open(store().toStdString());
            QVERIFY(s->find_run(run)->status == lathe::RunStatus::stopped);
            auto checkpoints = s->checkpoints(run);
            QVERIFY(!checkpoints.empty());
            QCOMPARE(checkpoints.back().step, static_cast<int64_t>(stoppedAt));  // the stop saved one where it stopped
            QVERIFY(QFileInfo::exists(QString::fromStdString(checkpoints.back().path) + "/adapter_model.safetensors"));
        }
        QVERIFY2(monitor->statusText().contains("Stopped"), qPrintable(monitor->statusText()));
        QCOMPARE(monitor->checkpointMarkerCount(), static_cast<int>(lathe::RunStore::open(store().toStdString())->checkpoints(run).size()));

        auto* resume = child<QPushButton>(monitor, "resumeButton");
        QVERIFY(resume->isEnabled());
        QTest::mouseClick(resume, Qt::LeftButton);
        QTRY_VERIFY2_WITH_TIMEOUT(monitor->lossPointCount() >= stoppedAt + 3, qPrintable(monitor->logText()), 60000);
        // Enough of a curve for the screenshot to show the loss falling, and a validation point.
        QTRY_VERIFY_WITH_TIMEOUT(monitor->lossPointCount() >= 40 || !monitor->session()->isRunning(), 120000);
        QVERIFY(monitor->evalPointCount() >= 1);
        QCOMPARE(monitor->currentRunId(), run);  // the same run continues
        QVERIFY2(monitor->logText().contains(QString("Resumed at step %1").arg(stoppedAt)), qPrintable(monitor->logText()));
        QTest::qWait(100);
        QVERIFY(window.grab().save(screenshot("monitor_page")));

        // Pause is a stop with a checkpoint; the run can go on later.
        QTest::mouseClick(child<QPushButton>(monitor, "pauseButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!monitor->session()->isRunning(), 60000);
        QVERIFY2(monitor->statusText().contains("Paused"), qPrintable(monitor->statusText()));
        QVERIFY(resume->isEnabled());

        // The Runs page's "open run": the charts come back from the store; an earlier run overlays.
        StudioRunStore otherStore;  // the default store, as the window's
        MonitorPage other(otherStore);
        other.openRun(run);
        QCOMPARE(other.lossPointCount(), monitor->lossPointCount());
        QCOMPARE(other.checkpointMarkerCount(), monitor->checkpointMarkerCount());
        // The Runs page's "resume": another Monitor continues the paused run from its checkpoint.
        const int pausedAt = other.lossPointCount();
        other.resumeRun(run);
        QTRY_VERIFY2_WITH_TIMEOUT(other.lossPointCount() > pausedAt, qPrintable(other.logText()), 60000);
        QVERIFY2(other.logText().contains(QString("Resumed at step %1").arg(pausedAt)), qPrintable(other.logText()));
        other.stopRun();
        QTRY_VERIFY_WITH_TIMEOUT(!other.session()->isRunning(), 60000);
        monitor->addOverlay(run);  // its own run is not overlaid on itself
        QCOMPARE(monitor->overlayCount(), 0);
        other.clearOverlays();
    }

    // The "Train on" list holds the GPUs nvidia-smi reports (here its CSV as it prints it) and the CPU;
    // several GPUs make one rank each (CUDA_VISIBLE_DEVICES for the chosen ones), the CPU and GPUs never mix.
    void trainOnListsGpusAndCpu() {
        TrainPage page;
        RankPicker* ranks = page.rankPicker();
        ranks->setGpus(DeviceMemory::parseNvidiaSmi("0, NVIDIA H100 80GB HBM3, 80000, 81559, 9.0\n1, NVIDIA H100 80GB HBM3, 79000, 81559, 9.0\n"
                                                    "2, NVIDIA H100 80GB HBM3, 81000, 81559, 9.0\n"));
        QCOMPARE(ranks->rows().size(), 4);
        QVERIFY2(ranks->rows()[1].startsWith("GPU 1:") && ranks->rows()[1].contains("77.1 of 80 GiB free"), qPrintable(ranks->rows()[1]));
        QCOMPARE(ranks->rows().back(), QString("CPU"));
        ranks->chooseGpus({0, 2});
        QCOMPARE(ranks->launch(), (RankLaunch{.processes = 2, .cuda_visible_devices = "0,2"}));
        QCOMPARE(QString::fromStdString(page.config().device), QString("cuda"));
        ranks->chooseGpus({1});
        QCOMPARE(ranks->launch(), RankLaunch{});
        QCOMPARE(QString::fromStdString(page.config().device), QString("cuda:1"));
        ranks->chooseCpu(2);
        QCOMPARE(ranks->launch(), (RankLaunch{.processes = 2, .cuda_visible_devices = ""}));
        QCOMPARE(QString::fromStdString(page.config().device), QString("cpu"));
        QVERIFY(page.yamlText().contains("device: cpu"));
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        page.validateNow();
        QVERIFY(page.grab().save(screenshot("train_page_ranks")));
    }

    // The memory estimate follows "Train on": with GPUs 0 and 2 checked it is each rank's (`lathe train
    // --dry-run --world-size 2`: AdamW's moments divided between the ranks, zero_stage 1), the largest
    // rank's against the least free of the two; one GPU again, one process's.
    void memoryEstimateIsPerRankOfTheChosenGpus() {
        TrainPage page;
        configureLora(&page, home_.filePath("rank-estimate"));
        page.setMethod(TrainPage::Method::Full);
        lathe::TrainConfig c = page.config();
        c.zero_stage = 1;
        c.ddp_bucket_cap_mb = 0.05;  // buckets smaller than the model, as a real model's 25 MiB are
        c.device = "cuda:1";
        page.setConfig(c);
        RankPicker* ranks = page.rankPicker();
        page.deviceMemory()->setGpus(DeviceMemory::parseNvidiaSmi("0, NVIDIA H100 80GB HBM3, 80000, 81559, 9.0\n1, NVIDIA H100 80GB HBM3, 79000, 81559, 9.0\n"
                                                                  "2, NVIDIA H100 80GB HBM3, 40000, 81559, 9.0\n"));
        page.setConfig(c);  // cuda:1, now that the page knows the GPU
        page.validateNow();
        QVERIFY2(page.problems().isEmpty(), qPrintable(page.problems().join("\n")));
        constexpr double kGiB = 1024.0 * 1024 * 1024;
        const bool bf16 = lathe::resolve_bf16(page.config().bf16, true, 9);
        const double one = lathe::estimate_training_memory(page.config(), bf16).total / kGiB;
        QTRY_VERIFY2(std::abs(page.estimatedGiB() - one) < 1e-12, qPrintable(page.memoryText()));

        ranks->chooseGpus({0, 2});
        QCOMPARE(QString::fromStdString(page.config().device), QString("cuda"));
        const lathe::MemoryEstimate two = lathe::estimate_training_memory(page.config(), bf16, 2);
        QCOMPARE(two.ranks.size(), size_t{2});
        QTRY_VERIFY2(std::abs(page.estimatedGiB() - two.device_total() / kGiB) < 1e-12,
                     qPrintable(QString("%1 vs %2: %3").arg(page.estimatedGiB()).arg(two.device_total() / kGiB).arg(page.memoryText())));
        QVERIFY(page.estimatedGiB() < one);  // the sharded optimizer state outweighs the buckets
        QVERIFY2(page.memoryText().contains("per rank (2 ranks, zero_stage 1; largest, rank") && page.memoryText().contains("least free of GPUs 0,2 (GPU 2"),
                 qPrintable(page.memoryText()));
        QVERIFY2(child<QLabel>(&page, "memoryEstimate")->toolTip().contains("rank 1: optimizer"), qPrintable(child<QLabel>(&page, "memoryEstimate")->toolTip()));
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QVERIFY(page.grab().save(screenshot("train_page_estimate_per_rank")));

        ranks->chooseGpus({1});
        QTRY_VERIFY2(std::abs(page.estimatedGiB() - one) < 1e-12, qPrintable(page.memoryText()));
        QVERIFY2(!page.memoryText().contains("per rank"), qPrintable(page.memoryText()));
    }

    // Two CPU ranks (Gloo) through `lathe launch`, from the Train page's Start: the Monitor charts rank 0's
    // events, the throughput of both ranks and each rank's memory; Stop reaches both ranks.
    void dataParallelRunOnTwoCpuRanks() {
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        TrainPage* page = window.trainPage();
        MonitorPage* monitor = window.monitorPage();
        configureLora(page, home_.filePath("ranks-out"));
        page->rankPicker()->chooseCpu(2);
        QCOMPARE(page->rankPicker()->launch().processes, 2);
        QVERIFY2(page->memoryText().contains("(2 processes)"), qPrintable(page->memoryText()));  // both ranks share this machine's memory
        QVERIFY2(page->problems().isEmpty(), qPrintable(page->problems().join("\n")));
        QTest::mouseClick(child<QPushButton>(page, "startButton"), Qt::LeftButton);
        QCOMPARE(monitor->session()->lastArguments().mid(0, 3), (QStringList{"launch", "--nproc-per-node", "2"}));
        QTRY_VERIFY2_WITH_TIMEOUT(monitor->lossPointCount() >= 6, qPrintable(monitor->logText()), 120000);
        QCOMPARE(monitor->rankMemoryCurveCount(), 2);
        QVERIFY2(monitor->throughputTitle().contains("all 2 ranks"), qPrintable(monitor->throughputTitle()));
        QVERIFY2(monitor->statusText().contains("2 ranks"), qPrintable(monitor->statusText()));
        const qint64 run = monitor->currentRunId();
        QTest::mouseClick(child<QPushButton>(monitor, "stopButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!monitor->session()->isRunning(), 60000);
        QVERIFY2(monitor->statusText().contains("Stopped"), qPrintable(monitor->statusText()));
        QTest::qWait(200);  // the charts' last redraw
        QVERIFY(window.grab().save(screenshot("monitor_data_parallel")));
        auto s = lathe::RunStore::open(store().toStdString());
        QVERIFY(s->find_run(run)->status == lathe::RunStatus::stopped);
        // The store keeps each rank's memory: the charts come back from it.
        StudioRunStore otherStore;
        MonitorPage other(otherStore);
        other.openRun(run);
        QCOMPARE(other.rankMemoryCurveCount(), 2);
    }

    // The session reads the trainer's lines through core/train/events.h: typed steps, the advice chosen by
    // the error's kind (the message here names no memory at all), lines it cannot read shown, not
    // dropped, and kinds it does not know skipped. A stand-in trainer prints the lines.
    void sessionReadsTypedEventsAndAdvisesByKind() {
        const QString script = home_.filePath("fake-trainer.sh");
        QFile f(script);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"(#!/bin/sh
cat <<'EOF'
{"attention":"sdpa_per_sequence","device":"cuda:0","event":"start","output_dir":"/tmp/x","precision":"bfloat16","run_id":42,"step":0,"total_steps":8,"train_rows":16,"trainable_parameters":100,"validation_rows":0}
{"elapsed_s":0.5,"epoch":0.125,"event":"step","gpu_mem_gib":0.75,"grad_norm":1.5,"loss":2.25,"lr":0.001,"run_id":42,"step":1,"tokens_per_s":100.0,"total_steps":8}
{"eval_loss":2.5,"event":"eval","perplexity":12.182493960703473,"run_id":42,"step":1}
{"eval_loss":3.25,"event":"eval","perplexity":25.790339917193062,"probe":"general","run_id":42,"step":1}
{"event":"task_score","filter":"none","metric":"acc","run_id":42,"stderr":0.25,"step":1,"task":"tiny_mc","value":0.5}
this line is not an event
{"event":"gradient_histogram","run_id":42,"step":1}
{"event":"error","kind":"out_of_memory","message":"CUDA refused 2.00 GiB","run_id":42}
{"event":"end","run_id":42,"status":"failed"}
EOF
)");
        f.close();
        f.setPermissions(f.permissions() | QFileDevice::ExeOwner);
        qputenv("LATHE_CLI", script.toUtf8());
        StudioRunStore runStore;
        MonitorPage monitor(runStore);
        TrainingSession* session = monitor.session();
        std::optional<lathe::StepEvent> step;
        std::optional<lathe::ErrorKind> kind;
        std::optional<lathe::RunStatus> status;
        QString advice;
        QStringList shown;
        connect(session, &TrainingSession::stepped, this, [&](const lathe::StepEvent& e) { step = e; });
        connect(session, &TrainingSession::failed, this, [&](const QString&, const QString& a, lathe::ErrorKind k) {
            advice = a;
            kind = k;
        });
        connect(session, &TrainingSession::stderrLine, this, [&](const QString& line) { shown << line; });
        connect(session, &TrainingSession::finished, this, [&](lathe::RunStatus s) { status = s; });
        monitor.startRun(home_.filePath("unused.yaml"));
        QTRY_VERIFY_WITH_TIMEOUT(status.has_value(), 30000);
        qputenv("LATHE_CLI", LATHE_CLI);
        QCOMPARE(session->runId(), 42);
        QVERIFY(step.has_value());
        QCOMPARE(step->loss, 2.25);
        QCOMPARE(step->gpu_mem_gib.value_or(-1), 0.75);
        // The validation set's evaluation on the loss chart, a probe's on the probe chart under its name.
        QCOMPARE(monitor.evalPointCount(), 1);
        QCOMPARE(monitor.probeNames(), QStringList{"general"});
        QCOMPARE(monitor.probePointCount("general"), 1);
        QVERIFY(monitor.probeChartShown());
        // An eval_tasks score on the task chart, under its task and metric.
        QCOMPARE(monitor.taskCurveNames(), QStringList{"tiny_mc acc"});
        QCOMPARE(monitor.taskPointCount("tiny_mc acc"), 1);
        QVERIFY(monitor.taskChartShown());
        QVERIFY(kind == lathe::ErrorKind::out_of_memory);
        QCOMPARE(advice, adviceFor(lathe::ErrorKind::out_of_memory));
        QVERIFY2(monitor.failureText().contains("micro_batch_size"), qPrintable(monitor.failureText()));
        QVERIFY(status == lathe::RunStatus::failed);
        QVERIFY2(shown.contains("this line is not an event"), qPrintable(shown.join("\n")));
        QVERIFY2(!shown.join("\n").contains("gradient_histogram"), qPrintable(shown.join("\n")));
        QVERIFY2(monitor.statusText().contains("failed"), qPrintable(monitor.statusText()));
        // Each kind has its own advice.
        QVERIFY(adviceFor(lathe::ErrorKind::diverged).contains("learning rate"));
        QVERIFY(adviceFor(lathe::ErrorKind::missing_file).contains("paths"));
        QVERIFY(adviceFor(lathe::ErrorKind::bad_data) != adviceFor(lathe::ErrorKind::other));
    }

    void failingTrainerShowsWhyAndGuiLives() {
        // Data the trainer refuses at line 2 (strict: a bad row is fatal, not skipped): an `error` event, exit 1.
        QFile bad(home_.filePath("bad.jsonl"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("{\"input_ids\": [1, 2, 3]}\n{\"input_ids\": \"oops\"}\n");
        bad.close();
        QFile cfg(home_.filePath("bad.yaml"));
        QVERIFY(cfg.open(QIODevice::WriteOnly));
        cfg.write(QString("base_model: %1\ndatasets: [%2]\nstrict: true\ndevice: cpu\noutput_dir: %3\n").arg(kDemoModel, bad.fileName(), home_.filePath("bad-out")).toUtf8());
        cfg.close();
        StudioRunStore runStore;
        MonitorPage monitor(runStore);
        monitor.show();
        monitor.startRun(cfg.fileName());
        QTRY_VERIFY_WITH_TIMEOUT(!monitor.session()->isRunning(), 60000);
        QVERIFY2(monitor.failureText().contains("bad.jsonl:2"), qPrintable(monitor.failureText()));
        QVERIFY2(monitor.statusText().contains("failed"), qPrintable(monitor.statusText()));
        QVERIFY(monitor.isVisible());

        // A config the CLI refuses outright (no run is created): stderr is the reason.
        monitor.startRun(home_.filePath("missing.yaml"));
        QTRY_VERIFY_WITH_TIMEOUT(!monitor.session()->isRunning(), 30000);
        QVERIFY2(monitor.failureText().contains("missing.yaml"), qPrintable(monitor.failureText()));
    }

    void killedTrainerIsReportedAndResumable() {
        TrainPage page;
        configureLora(&page, home_.filePath("killed-out"));
        StudioRunStore runStore;
        MonitorPage monitor(runStore);
        monitor.show();
        connect(&page, &TrainPage::startRequested, &monitor, &MonitorPage::startRun);
        page.start();
        QTRY_VERIFY_WITH_TIMEOUT(monitor.checkpointMarkerCount() >= 1, 60000);
        ::kill(static_cast<pid_t>(monitor.session()->pid()), SIGKILL);
        QTRY_VERIFY_WITH_TIMEOUT(!monitor.session()->isRunning(), 30000);
        QVERIFY2(monitor.failureText().contains("killed or crashed"), qPrintable(monitor.failureText()));
        QVERIFY2(monitor.failureText().contains("Resume"), qPrintable(monitor.failureText()));
        QVERIFY(child<QPushButton>(&monitor, "resumeButton")->isEnabled());
        // Nobody wrote an end status, yet the store reads it as interrupted (its process is gone), and the
        // Runs page offers to resume it; its checkpoints are there, and Resume goes on.
        auto s = lathe::RunStore::open(store().toStdString());
        QVERIFY(s->find_run(monitor.currentRunId())->status == lathe::RunStatus::interrupted);
        const auto checkpoints = s->checkpoints(monitor.currentRunId());
        QVERIFY(!checkpoints.empty());
        {
            StudioRunStore runStore;
            runStore.setPath(store());
            RunsPage runs(runStore);
            auto* table = runs.findChild<QTableView*>();
            QVERIFY(table->model()->rowCount() >= 1);
            runs.selectRun(monitor.currentRunId());
            const int row = table->currentIndex().row();
            QCOMPARE(table->model()->index(row, RunsTableModel::Id).data().toLongLong(), monitor.currentRunId());
            QCOMPARE(table->model()->index(row, RunsTableModel::Status).data().toString(), QString("interrupted"));
            QPushButton* resume = nullptr;
            for (QPushButton* b : runs.findChildren<QPushButton*>())
                if (b->text() == "Resume") resume = b;
            QVERIFY(resume && resume->isEnabled());
            QVERIFY2(resume->toolTip().contains(QString("step %1").arg(checkpoints.back().step)), qPrintable(resume->toolTip()));
        }
        const int before = monitor.lossPointCount();
        QTest::mouseClick(child<QPushButton>(&monitor, "resumeButton"), Qt::LeftButton);
        QTRY_VERIFY2_WITH_TIMEOUT(monitor.logText().contains(QString("Resumed at step %1").arg(checkpoints.back().step)), qPrintable(monitor.logText()), 60000);
        QTRY_VERIFY_WITH_TIMEOUT(monitor.lossPointCount() > before, 60000);
        monitor.stopRun();
        QTRY_VERIFY_WITH_TIMEOUT(!monitor.session()->isRunning(), 60000);

        // An earlier run's loss overlays this one's for comparison.
        qint64 earlier = 0;
        for (const auto& r : s->list_runs())
            if (r.id != monitor.currentRunId() && !s->metrics(r.id, "loss").empty()) earlier = r.id;
        QVERIFY(earlier > 0);
        monitor.addOverlay(earlier);
        QCOMPARE(monitor.overlayCount(), 1);
        monitor.clearOverlays();
        QCOMPARE(monitor.overlayCount(), 0);
    }

    void closingWithARunAsksAndCanLeaveItRunning() {
        auto* window = new MainWindow;
        window->show();
        QVERIFY(QTest::qWaitForWindowExposed(window));
        configureLora(window->trainPage(), home_.filePath("detached-out"));
        {
            // Long enough that it cannot finish on an idle machine before the SIGTERM below.
            lathe::TrainConfig c = window->trainPage()->config();
            c.num_epochs = 200;
            window->trainPage()->setConfig(c);
            window->trainPage()->validateNow();
        }
        window->trainPage()->start();
        MonitorPage* monitor = window->monitorPage();
        QTRY_VERIFY_WITH_TIMEOUT(monitor->lossPointCount() >= 1, 60000);
        const qint64 pid = monitor->session()->pid();
        const qint64 run = monitor->currentRunId();

        QString asked;
        answerNextMessageBox("Cancel", &asked);
        QVERIFY(!window->close());  // cancelled: stays open
        QVERIFY2(asked.contains("Stop it with a checkpoint") && asked.contains("leave it running"), qPrintable(asked));

        answerNextMessageBox("Leave running");
        QVERIFY(window->close());
        delete window;
        QTest::qWait(300);
        QCOMPARE(::kill(static_cast<pid_t>(pid), 0), 0);  // the trainer outlived the window

        // A new window follows it from the run store.
        StudioRunStore reopenedStore;
        MonitorPage reopened(reopenedStore);
        reopened.openRun(run);
        QVERIFY2(reopened.statusText().contains("running in another process"), qPrintable(reopened.statusText()));
        const int seen = reopened.lossPointCount();
        QTRY_VERIFY_WITH_TIMEOUT(reopened.lossPointCount() > seen, 30000);

        // Stop it as the GUI would have: SIGTERM → checkpoint → stopped.
        ::kill(static_cast<pid_t>(pid), SIGTERM);
        QTRY_VERIFY_WITH_TIMEOUT(lathe::RunStore::open(store().toStdString())->find_run(run)->status == lathe::RunStatus::stopped, 60000);
    }
};

QTEST_MAIN(TrainingFlowTest)
#include "test_ui_training.moc"
