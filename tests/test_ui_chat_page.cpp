// The Chat page: base model and adapter side by side, each streamed from its own `lathe generate`, and
// checkpoints offered from the run store.
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QSpinBox>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "tests/ui_test_support.h"
#include "ui/generate_process.h"
#include "ui/main_window.h"
#include "ui/pages/chat_page.h"
#include "ui/pages/runs_page.h"
#include "ui/studio_run_store.h"

namespace {

// What `lathe generate` answers on its own for the same request (the result line's text).
QString generatedByCli(const GenerateRequest& r) {
    QStringList args = generateArguments(r);
    args.removeAll("--stream");
    uitest::CliResult out = uitest::runLathe(args);
    return QJsonDocument::fromJson(out.out.toUtf8()).object()["text"].toString();
}

}  // namespace

class ChatPageTest : public QObject {
    Q_OBJECT
private slots:
    void init() { QSettings().clear(); }

    void baseAndAdapterSideBySide() {
        QTemporaryDir dir;
        QString model = uitest::makeModelWithTokenizer(dir.path());
        QString adapter = uitest::hfAdapter("qwen2-lora");  // LoRA on the qwen2 fixture's linear layers
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        window.activateWindow();  // shortcuts go to the active window
        QVERIFY(QTest::qWaitForWindowActive(&window));
        ChatPage* page = window.chatPage();
        window.showPage(page);
        page->setModel(model);
        page->setAdapter(adapter);
        QCOMPARE(page->adapter(), adapter);
        page->findChild<QPlainTextEdit*>("chatPrompt")->setPlainText("Tell me about the quick brown fox");
        // A flat distribution, so the adapter's small change to the logits shows in the sampled text.
        page->findChild<QDoubleSpinBox*>("temperature")->setValue(2.0);
        page->findChild<QSpinBox*>("topK")->setValue(0);
        page->findChild<QDoubleSpinBox*>("topP")->setValue(1.0);
        page->findChild<QSpinBox*>("maxNewTokens")->setValue(48);
        QList<GenerateProcess*> processes = page->findChildren<GenerateProcess*>();
        QCOMPARE(processes.size(), 2);
        QSignalSpy base_pieces(processes[0], &GenerateProcess::textAdded);
        QSignalSpy tuned_pieces(processes[1], &GenerateProcess::textAdded);
        QSignalSpy base_done(processes[0], &GenerateProcess::finished);
        QSignalSpy tuned_done(processes[1], &GenerateProcess::finished);
        page->findChild<QPlainTextEdit*>("chatPrompt")->setFocus();  // typing there, as a user would
        QTest::keyClick(page->findChild<QPlainTextEdit*>("chatPrompt"), Qt::Key_Return, Qt::ControlModifier);
        QVERIFY(page->isGenerating());
        QTRY_VERIFY_WITH_TIMEOUT(!page->isGenerating(), 60000);
        QCOMPARE(base_done.count(), 1);
        QCOMPARE(tuned_done.count(), 1);
        QVERIFY(base_pieces.count() > 1);
        QVERIFY(tuned_pieces.count() > 1);

        // Each column is what `lathe generate` gives for its side, and the adapter changes the answer.
        GenerateRequest r = page->request();
        QString base = generatedByCli(r);
        r.adapter_dir = adapter;
        QString tuned = generatedByCli(r);
        QVERIFY(!base.isEmpty());
        QVERIFY2(base != tuned, qPrintable("the adapter should change the sampled text: " + base));
        QCOMPARE(page->findChild<QPlainTextEdit*>("baseOutput")->toPlainText(), base);
        QCOMPARE(page->findChild<QPlainTextEdit*>("tunedOutput")->toPlainText(), tuned);
        page->findChild<QCheckBox*>("showWhitespace")->setChecked(true);  // the base model answers with many newlines
        QVERIFY(uitest::saveScreenshot(&window, "chat_page"));
    }

    void aFailingSideSaysWhyAndTheOtherStillAnswers() {
        QTemporaryDir dir;
        QString model = uitest::makeModelWithTokenizer(dir.path());
        QTemporaryDir empty;  // not a model folder, not an adapter
        StudioRunStore runs;  // the default store: no runs, so no checkpoints offered
        ChatPage page(runs);
        page.show();
        page.setModel(model);
        page.setAdapter(empty.path());
        page.findChild<QPlainTextEdit*>("chatPrompt")->setPlainText("Hello");
        page.generate();
        QTRY_VERIFY_WITH_TIMEOUT(!page.isGenerating(), 60000);
        QStringList statuses;
        for (QLabel* l : page.findChildren<QLabel*>()) statuses << l->text();
        QString all = statuses.join("\n");
        QVERIFY2(all.contains("Done ("), qPrintable(all));
        QVERIFY2(all.contains("Failed: ") && all.contains(empty.path()), qPrintable(all));  // lathe's error names the folder
        QVERIFY(!page.findChild<QPlainTextEdit*>("baseOutput")->toPlainText().isEmpty());
    }

    void offersTheCheckpointsOfRunsOnThisModel() {
        QTemporaryDir dir;
        QDir().mkpath(dir.filePath("model"));
        QString model = uitest::makeModelWithTokenizer(dir.filePath("model"));
        QString db = dir.filePath("lathe.db");
        uitest::CliResult trained = uitest::trainTinyRun(model, dir.path(), db, "tuned");
        QVERIFY2(trained.code == 0, qPrintable(trained.err));
        MainWindow window;
        window.runsPage()->setStorePath(db);
        ChatPage* page = window.chatPage();
        page->setModel(model);
        auto* combo = page->findChild<QComboBox*>("chatAdapter");
        QVERIFY2(combo->count() >= 2, "none, then the run's checkpoints");
        QString checkpoint = combo->itemData(1).toString();
        QVERIFY(combo->itemText(1).contains("run 1"));
        QVERIFY(QFileInfo::exists(checkpoint + "/adapter_config.json"));
        combo->setCurrentIndex(1);

        // Generate from the trained checkpoint (greedy, so the CLI's answer is the same text).
        page->findChild<QPlainTextEdit*>("chatPrompt")->setPlainText("Document 3:");
        for (QCheckBox* c : page->findChildren<QCheckBox*>())
            if (c->text().startsWith("Greedy")) c->setChecked(true);
        page->generate();
        QTRY_VERIFY_WITH_TIMEOUT(!page->isGenerating(), 60000);
        GenerateRequest r = page->request();
        r.adapter_dir = checkpoint;
        QCOMPARE(page->findChild<QPlainTextEdit*>("tunedOutput")->toPlainText(), generatedByCli(r));
        window.resize(1280, 800);
        window.showPage(page);
        window.show();
        page->findChild<QCheckBox*>("showWhitespace")->setChecked(true);  // this model's answers are mostly newlines
        QVERIFY(uitest::saveScreenshot(&window, "chat_page_checkpoint"));

        // Another model's checkpoints are not offered.
        page->setModel(uitest::hfModel("llama"));
        QCOMPARE(combo->count(), 1);
    }
};

int runChatPageTests(int argc, char** argv) {
    ChatPageTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_chat_page.moc"
