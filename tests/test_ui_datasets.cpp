// The Datasets page offscreen: a million-row file paged lazily (the table parses only the rows it
// shows), the inspection in a `lathe data inspect` child process (cancellable), a chat row rendered
// through the model's chat template with the untrained tokens shaded, the token-length histogram,
// duplicates and problems that jump to their rows, drag-and-drop, and "Train on This".
#include <QDropEvent>
#include <QLabel>
#include <QProcess>
#include <QLineEdit>
#include <QListWidget>
#include <QMimeData>
#include <QPushButton>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

#include "core/data/dataset_file.h"
#include "tests/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/pages/dataset_table_model.h"
#include "ui/pages/datasets_page.h"
#include "ui/pages/train_page.h"

namespace {

template <typename T>
T* child(QWidget* parent, const char* name) {
    T* w = parent->findChild<T*>(name);
    if (!w) qFatal("no child %s", name);
    return w;
}

QString screenshotPath(const QString& name) {
    const QString suffix = QGuiApplication::platformName() == "offscreen" ? QString() : "_" + QGuiApplication::platformName();
    return uitest::screenshotDir() + "/" + name + suffix + ".png";
}

void writeFile(const QString& path, const QByteArray& text) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(text);
}

QString chatRow(const QString& user, const QString& assistant) {
    return QString(R"({"messages": [{"role": "user", "content": "%1"}, {"role": "assistant", "content": "%2"}]})").arg(user, assistant) + "\n";
}

}  // namespace

class DatasetsPageTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString model_;
    QString chat_file_;

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        QDir().mkpath(dir_.filePath("model"));
        model_ = uitest::makeModelWithTokenizer(dir_.filePath("model"));
        // 12 chat rows of growing length; line 5 repeats line 2; line 8 is not JSON; line 10 has a role
        // no template knows.
        QByteArray text;
        for (int i = 1; i <= 12; ++i) {
            if (i == 5) text += chatRow("Question 2", "Answer 2 is" + QString(" more").repeated(6) + ".").toUtf8();
            else if (i == 8) text += "{\"messages\": [oops\n";
            else if (i == 10) text += R"({"messages": [{"role": "bot", "content": "hi"}]})" "\n";
            else text += chatRow(QString("Question %1").arg(i), QString("Answer %1 is").arg(i) + QString(" more").repeated(i * 3) + ".").toUtf8();
        }
        chat_file_ = dir_.filePath("chat.jsonl");
        writeFile(chat_file_, text);
    }

    void millionRowsArePagedLazily() {
        const QString big = dir_.filePath("million.jsonl");
        {
            QFile f(big);
            QVERIFY(f.open(QIODevice::WriteOnly));
            QByteArray chunk;
            for (int i = 0; i < 1000000; ++i) {
                chunk += "{\"text\": \"row " + QByteArray::number(i) + " of a big file\", \"id\": " + QByteArray::number(i) + "}\n";
                if (chunk.size() > (1 << 20)) {
                    f.write(chunk);
                    chunk.clear();
                }
            }
            f.write(chunk);
        }
        // The model alone: row count from the index, any row parsed on demand and only that row.
        DatasetTableModel model;
        model.setFile(std::make_shared<lathe::data::DatasetFile>(lathe::data::DatasetFile::open(big.toStdString())));
        QCOMPARE(model.rowCount(), 1000000);
        QCOMPARE(model.headerData(1, Qt::Horizontal).toString(), QString("text"));
        const qint64 parsedForHeader = model.rowsParsed();
        QCOMPARE(model.data(model.index(999999, 1)).toString(), QString("row 999999 of a big file"));
        QCOMPARE(model.data(model.index(999999, 0)).toLongLong(), 1000000LL);  // its line
        QCOMPARE(model.data(model.index(123456, 2)).toString(), QString("123456"));
        QCOMPARE(model.rowsParsed(), parsedForHeader + 2);
        QCOMPARE(model.rowForLine(500001), 500000);

        // The page: the table fills from a worker thread, scrolling to the end parses a screenful.
        DatasetsPage page;
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QVERIFY(page.openFile(big));
        QTRY_COMPARE_WITH_TIMEOUT(page.tableModel()->rowCount(), 1000000, 30000);
        page.table()->scrollToBottom();
        page.selectRow(999999);
        QTest::qWait(100);
        QVERIFY2(page.tableModel()->rowsParsed() < 500, qPrintable(QString::number(page.tableModel()->rowsParsed())));
        QVERIFY2(page.renderMessage().contains("Line 1000000"), qPrintable(page.renderMessage()));

        // The inspection of a million rows is still going; Cancel kills it and nothing of it is shown.
        if (page.isInspecting()) {
            qInfo("cancelling the inspection of a million rows");
            QTest::mouseClick(child<QPushButton>(&page, "cancelInspect"), Qt::LeftButton);
            QVERIFY(!page.isInspecting());
            QVERIFY2(page.statusText().contains("cancelled"), qPrintable(page.statusText()));
            QVERIFY2(page.report().isEmpty(), QJsonDocument(page.report()).toJson().constData());
        } else {
            qInfo("the inspection of a million rows ended before Cancel could be pressed");
            QCOMPARE(page.report()["rows"].toInteger(), 1000000);
        }
    }

    void chatRowsRenderedInspectedAndJumpedTo() {
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        DatasetsPage* page = window.datasetsPage();
        window.showPage(page);
        QVERIFY(window.openModel(model_));  // the Models page's model is the one rows are rendered with
        window.showPage(page);
        QCOMPARE(page->model(), model_);
        QVERIFY(page->openFile(chat_file_));
        QTRY_VERIFY_WITH_TIMEOUT(!page->report().isEmpty() && !page->isIndexing(), 60000);
        QTRY_VERIFY_WITH_TIMEOUT(!page->report()["tokens"].isNull(), 60000);  // counted with the model's tokenizer

        // What the test wrote: 12 rows, 10 usable, one exact duplicate, the two bad lines.
        const QJsonObject r = page->report();
        QCOMPARE(r["rows"].toInteger(), 12);
        QCOMPARE(r["usable_rows"].toInteger(), 10);
        QCOMPARE(r["type"].toString(), QString("chat"));
        QCOMPARE(r["exact_duplicates"].toObject()["count"].toInteger(), 1);
        QCOMPARE(page->tableModel()->rowCount(), 12);
        QVERIFY(page->histogramBars() > 0);
        qint64 counted = 0;
        for (const QJsonValue& b : r["tokens"].toObject()["lengths"].toObject()["histogram"].toArray()) counted += b.toObject()["count"].toInteger();
        QCOMPARE(counted, 10);

        // Row 1 through ChatML: the prompt shaded, the reply and its <|im_end|> trained, the newline after not.
        page->selectRow(0);
        QTRY_VERIFY(!page->renderedSpans().isEmpty());
        QString trained, masked;
        for (const auto& [text, t] : page->renderedSpans()) (t ? trained : masked) += text;
        QCOMPARE(trained, QString("Answer 1 is more more more.<|im_end|>"));
        QVERIFY2(masked.startsWith("<|im_start|>user\nQuestion 1<|im_end|>\n<|im_start|>assistant\n"), qPrintable(masked));
        QVERIFY(!page->renderedSpans().last().second);  // the separator after the end-of-turn token
        QVERIFY2(page->renderMessage().contains("trained"), qPrintable(page->renderMessage()));

        // Problems name their lines; clicking one selects that row.
        auto* problems = child<QListWidget>(page, "problems");
        QCOMPARE(problems->count(), 2);
        QVERIFY2(problems->item(0)->text().startsWith("chat.jsonl:8: "), qPrintable(problems->item(0)->text()));
        QVERIFY2(problems->item(1)->text().contains("chat.jsonl:10: ") && problems->item(1)->text().contains("bot"), qPrintable(problems->item(1)->text()));
        QTest::mouseClick(problems->viewport(), Qt::LeftButton, {}, problems->visualItemRect(problems->item(1)).center());
        QCOMPARE(page->table()->currentIndex().row(), page->rowForLine(10));
        QCOMPARE(page->tableModel()->data(page->tableModel()->index(page->table()->currentIndex().row(), 0)).toLongLong(), 10LL);
        QVERIFY2(page->renderMessage().contains("Line 10 cannot be used"), qPrintable(page->renderMessage()));
        auto* duplicates = child<QListWidget>(page, "duplicates");
        QVERIFY2(duplicates->item(0)->text().contains("chat.jsonl:5 repeats chat.jsonl:2"), qPrintable(duplicates->item(0)->text()));
        QTest::mouseClick(duplicates->viewport(), Qt::LeftButton, {}, duplicates->visualItemRect(duplicates->item(0)).center());
        QCOMPARE(page->table()->currentIndex().row(), 4);

        page->selectRow(11);
        QTRY_VERIFY(!page->renderedSpans().isEmpty());
        QTest::qWait(100);
        QVERIFY(window.grab().save(screenshotPath("datasets_page")));
    }

    // A preference pair: chosen and rejected side by side as DPOTrainer tokenizes them, the prompt shaded and
    // each completion (with the template's end of turn) trained.
    void preferencePairShownSideBySide() {
        const QString path = dir_.filePath("pairs.jsonl");
        writeFile(path, R"({"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": "Hello."}], )"
                        R"("rejected": [{"role": "assistant", "content": "Go away."}]})" "\n"
                        R"({"prompt": "The sky is", "chosen": " blue.", "rejected": " green."})" "\n");
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        DatasetsPage* page = window.datasetsPage();
        QVERIFY(window.openModel(model_));
        window.showPage(page);
        QVERIFY(page->openFile(path));
        QTRY_VERIFY_WITH_TIMEOUT(!page->report().isEmpty() && !page->isIndexing(), 60000);
        QCOMPARE(page->report()["type"].toString(), QString("preference"));
        page->selectRow(0);
        QTRY_VERIFY(!page->rejectedSpans().isEmpty());
        auto split = [](const QList<QPair<QString, bool>>& spans) {
            QString trained, masked;
            for (const auto& [text, t] : spans) (t ? trained : masked) += text;
            return std::pair{trained, masked};
        };
        const auto [chosen, chosen_prompt] = split(page->renderedSpans());
        const auto [rejected, rejected_prompt] = split(page->rejectedSpans());
        QCOMPARE(chosen, QString("Hello.<|im_end|>\n"));
        QCOMPARE(rejected, QString("Go away.<|im_end|>\n"));
        QCOMPARE(chosen_prompt, QString("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
        QCOMPARE(rejected_prompt, chosen_prompt);
        QVERIFY2(page->renderMessage().contains("preference pair"), qPrintable(page->renderMessage()));
        QTest::qWait(100);
        QVERIFY(window.grab().save(screenshotPath("datasets_page_pair")));
        // A text pair: the EOS text appended to each completion, as DPOTrainer does.
        page->selectRow(1);
        QTRY_VERIFY(!page->rejectedSpans().isEmpty());
        QCOMPARE(split(page->renderedSpans()).first, QString(" blue.<|im_end|>"));
        QCOMPARE(split(page->rejectedSpans()).second, QString("The sky is"));
    }

    void compressedFileIsInspectedThoughNotListed() {
        // The row index needs an uncompressed file; the inspection reads .gz as it goes.
        QProcess gzip;
        gzip.setStandardOutputFile(dir_.filePath("chat.jsonl.gz"));
        gzip.start("gzip", {"-c", chat_file_});
        QVERIFY(gzip.waitForFinished() && gzip.exitCode() == 0);
        DatasetsPage page;
        page.show();
        QVERIFY(page.openFile(dir_.filePath("chat.jsonl.gz")));
        QTRY_VERIFY_WITH_TIMEOUT(!page.report().isEmpty() && !page.isIndexing(), 60000);
        QCOMPARE(page.tableModel()->rowCount(), 0);
        QCOMPARE(page.report()["rows"].toInteger(), 12);
        QCOMPARE(child<QListWidget>(&page, "problems")->count(), 2);
        bool told = false;
        for (QLabel* l : page.findChildren<QLabel*>()) told = told || (l->isVisible() && l->text().startsWith("The rows are not listed"));
        QVERIFY(told);
    }

    void droppedFileOpensAndTrainsOnThis() {
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        DatasetsPage* page = window.datasetsPage();
        window.showPage(page);
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(chat_file_)});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(page, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(page, &drop);
        QCOMPARE(page->currentFile(), QFileInfo(chat_file_).absoluteFilePath());
        QTRY_COMPARE_WITH_TIMEOUT(page->tableModel()->rowCount(), 12, 30000);

        QTest::mouseClick(child<QPushButton>(page, "trainOnDataset"), Qt::LeftButton);
        QCOMPARE(window.currentPage(), static_cast<QWidget*>(window.trainPage()));
        const auto datasets = window.trainPage()->config().datasets;
        QCOMPARE(datasets.size(), 1u);
        QCOMPARE(QString::fromStdString(datasets[0].path), QFileInfo(chat_file_).absoluteFilePath());
        QCOMPARE(child<QLineEdit>(window.trainPage(), "datasets")->text(), QFileInfo(chat_file_).absoluteFilePath());
        page->cancelInspection();
    }
};

int runDatasetsPageTests(int argc, char** argv) {
    DatasetsPageTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_datasets.moc"
