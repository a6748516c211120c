// The Models page: the facts it shows about a model folder (checked against the fixture files), the
// Hugging Face cache scan, and "try it" through the real `lathe generate`.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMimeData>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <set>

#include "tests/ui_test_support.h"
#include "ui/generate_process.h"
#include "ui/hf_cache.h"
#include "ui/main_window.h"
#include "ui/pages/models_page.h"

namespace {

QJsonObject readJson(const QString& path) {
    QFile f(path);
    f.open(QIODevice::ReadOnly);
    return QJsonDocument::fromJson(f.readAll()).object();
}

QString visibleText(QWidget* root) {
    QStringList texts;
    for (QLabel* l : root->findChildren<QLabel*>())
        if (l->isVisible() && !l->visibleRegion().isEmpty()) texts << l->text();
    return texts.join("\n");
}

}  // namespace

class ModelsPageTest : public QObject {
    Q_OBJECT
private slots:
    void init() { QSettings().clear(); }

    void showsWhatTheFixtureFilesSay() {
        QTemporaryDir dir;
        QString model = uitest::makeModelWithTokenizer(dir.path());
        // A Hugging Face cache with two of the fixture models, as the page finds it at start.
        QTemporaryDir hub;
        for (const char* name : {"llama", "qwen3"}) {
            QString snap = hub.filePath(QString("models--fixtures--tiny-%1/snapshots/5d1c0e2a").arg(name));
            QDir().mkpath(snap);
            for (const char* f : {"config.json", "model.safetensors"}) QFile::link(uitest::hfModel(name) + "/" + f, snap + "/" + f);
        }
        QByteArray saved = qgetenv("HF_HUB_CACHE");
        qputenv("HF_HUB_CACHE", hub.path().toUtf8());
        MainWindow window;
        qputenv("HF_HUB_CACHE", saved);
        QCOMPARE(window.findChild<QListWidget*>("hubList")->count(), 2);
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(window.openModel(model));
        // Architecture, dtype, context length from config.json; size on disk from the file.
        QJsonObject config = readJson(model + "/config.json");
        QString ctx = QLocale().toString(config["max_position_embeddings"].toInteger());
        QString tokenizer_type = readJson(model + "/tokenizer.json")["model"].toObject()["type"].toString();
        QTRY_VERIFY2(visibleText(&window).contains(tokenizer_type), qPrintable(visibleText(&window)));  // read in the background
        QTest::qWait(50);  // let the rows lay out, as the event loop would
        QString all = visibleText(&window);
        QVERIFY2(all.contains("Qwen2"), qPrintable(all));
        QVERIFY2(all.contains(config["dtype"].toString()), qPrintable(all));
        QVERIFY2(all.contains(ctx + " positions"), qPrintable(all));
        QVERIFY2(all.contains("KiB") || all.contains("MiB"), qPrintable(all));
        // Tokenizer: transformers' len(tokenizer) is the number of distinct ids, vocabulary and added tokens.
        QJsonObject tok = readJson(model + "/tokenizer.json");
        std::set<qint64> ids;
        for (const QJsonValue& v : tok["model"].toObject()["vocab"].toObject()) ids.insert(v.toInteger());
        for (const QJsonValue& t : tok["added_tokens"].toArray()) ids.insert(t.toObject()["id"].toInteger());
        QString vocab = QLocale().toString(static_cast<qlonglong>(ids.size())) + " tokens";
        QVERIFY2(all.contains(vocab), qPrintable(vocab + " not in\n" + all));
        QString eos = readJson(model + "/tokenizer_config.json")["eos_token"].toString();
        QVERIFY2(all.contains("EOS: " + eos), qPrintable(all));
        // The chat template, verbatim from chat_template.jinja.
        QFile jinja(model + "/chat_template.jinja");
        jinja.open(QIODevice::ReadOnly);
        bool shown = false;
        for (QPlainTextEdit* e : window.findChildren<QPlainTextEdit*>())
            if (e->isVisible() && e->toPlainText() == QString::fromUtf8(jinja.readAll())) shown = true;
        QVERIFY(shown);
        QVERIFY(uitest::saveScreenshot(&window, "models_page"));

        // The fixture model without a tokenizer says so rather than failing.
        QVERIFY(window.openModel(uitest::hfModel("llama")));
        QTRY_VERIFY(visibleText(&window).contains("none in this folder"));
    }

    void scansAHuggingFaceCacheLayout() {
        QTemporaryDir hub;
        // huggingface_hub's layout: models--ORG--NAME/snapshots/REVISION/ with files (symlinks to blobs).
        QString snap = hub.filePath("models--some-org--tiny-qwen2/snapshots/0123456789abcdef");
        QDir().mkpath(snap);
        QDir().mkpath(hub.filePath("models--some-org--tiny-qwen2/blobs"));
        for (const char* f : {"config.json", "model.safetensors"}) QVERIFY(QFile::link(uitest::hfModel("qwen2") + "/" + f, snap + "/" + f));
        QDir().mkpath(hub.filePath("models--other--tokenizer-only/snapshots/abc"));  // no config.json: not a model
        QDir().mkpath(hub.filePath("datasets--someone--data/snapshots/abc"));
        QVector<CachedModel> found = scanHuggingFaceCache(hub.path());
        QCOMPARE(found.size(), 1);
        QCOMPARE(found[0].repo_id, QString("some-org/tiny-qwen2"));
        QCOMPARE(found[0].revision, QString("0123456789abcdef"));

        // Where the cache is: HF_HUB_CACHE, else HF_HOME/hub.
        QByteArray saved = qgetenv("HF_HUB_CACHE");
        qunsetenv("HF_HUB_CACHE");
        qputenv("HF_HOME", "/somewhere/hf");
        QCOMPARE(huggingFaceHubCache(), QString("/somewhere/hf/hub"));
        qputenv("HF_HUB_CACHE", hub.path().toUtf8());
        QCOMPARE(huggingFaceHubCache(), hub.path());
        qunsetenv("HF_HOME");

        // The page lists it; activating the entry opens the snapshot.
        MainWindow window;
        window.show();
        auto* list = window.findChild<QListWidget*>("hubList");
        QCOMPARE(list->count(), 1);
        QVERIFY(list->item(0)->text().contains("some-org/tiny-qwen2"));
        emit list->itemActivated(list->item(0));
        QCOMPARE(window.modelsPage()->currentModel(), snap);
        qputenv("HF_HUB_CACHE", saved);
    }

    void opensADroppedFolder() {
        ModelsPage page;
        page.show();
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(uitest::hfModel("gemma"))});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&page, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&page, &drop);
        QCOMPARE(page.currentModel(), uitest::hfModel("gemma"));
        QCOMPARE(page.recentModels().value(0), uitest::hfModel("gemma"));
        // A file is not a model folder: not accepted.
        mime.setUrls({QUrl::fromLocalFile(uitest::hfModel("gemma") + "/config.json")});
        QDragEnterEvent file_enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        file_enter.ignore();
        QApplication::sendEvent(&page, &file_enter);
        QVERIFY(!file_enter.isAccepted());
    }

    void tryItStreamsTextFromLatheGenerate() {
        QTemporaryDir dir;
        QString model = uitest::makeModelWithTokenizer(dir.path());
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(window.openModel(model));
        auto* process = window.modelsPage()->findChild<GenerateProcess*>();
        QSignalSpy pieces(process, &GenerateProcess::textAdded);
        QSignalSpy done(process, &GenerateProcess::finished);
        QSignalSpy failed(process, &GenerateProcess::failed);
        auto* prompt = window.modelsPage()->findChild<QLineEdit*>();
        prompt->setText("The quick brown fox");
        QTest::keyClick(prompt, Qt::Key_Return);
        QTRY_VERIFY_WITH_TIMEOUT(done.count() + failed.count() > 0, 60000);
        QVERIFY2(failed.isEmpty(), qPrintable(failed.value(0).value(0).toString()));
        QString text = done[0][0].toString();
        QVERIFY(!text.isEmpty());
        QVERIFY(pieces.count() > 1);  // streamed piece by piece, not all at the end
        QString joined;
        for (const auto& p : pieces) joined += p[0].toString();
        QCOMPARE(joined, text);
        auto* output = window.findChild<QPlainTextEdit*>("tryOutput");
        QCOMPARE(output->toPlainText(), text);
        QVERIFY(uitest::saveScreenshot(&window, "models_page_try_it"));
    }

    void tryItCancels() {
        QTemporaryDir dir;
        QString model = uitest::makeModelWithTokenizer(dir.path());
        ModelsPage page;
        page.show();
        QVERIFY(page.openModel(model));
        auto* process = page.findChild<GenerateProcess*>();
        QSignalSpy cancelled(process, &GenerateProcess::cancelled);
        QSignalSpy done(process, &GenerateProcess::finished);
        page.findChild<QLineEdit*>()->setText("Hello");
        page.startTryIt();
        QVERIFY(process->isRunning());
        page.stopTryIt();
        QTRY_COMPARE(cancelled.count(), 1);
        QVERIFY(!process->isRunning());
        QCOMPARE(done.count(), 0);
        QVERIFY(visibleText(&page).contains("Stopped."));
    }
};

int runModelsPageTests(int argc, char** argv) {
    ModelsPageTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_models_page.moc"
