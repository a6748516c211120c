// The Datasets page offscreen: a million-row file paged lazily (the table parses only the rows it
// shows), the inspection in a `lathe data inspect` child process (cancellable), a chat row rendered
// through the model's chat template with the untrained tokens shaded, the token-length histogram,
// duplicates and problems that jump to their rows, drag-and-drop, "Train on This", and the Contamination
// tab (`lathe data decontaminate` against eval files and task YAMLs: the rows that hold planted eval
// items, the empty state, errors, Cancel, and the clean data written without them).
#include <QDropEvent>
#include <QLabel>
#include <QProcess>
#include <QLineEdit>
#include <QListWidget>
#include <QMimeData>
#include <QPushButton>
#include <QRandomGenerator>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

#include "core/data/dataset_file.h"
#include "tests/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/pages/contamination_table_model.h"
#include "ui/pages/contamination_view.h"
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

// `count` made-up lowercase words (two or three syllables), drawn by `rng`: text that shares no 13 words in a
// row with any other text made this way, unless planted.
QString words(QRandomGenerator& rng, int count) {
    static const char* syllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fe", "gu", "hi", "jo", "be"};
    QStringList out;
    for (int i = 0; i < count; ++i) {
        QString w;
        for (int k = 0, n = 2 + rng.bounded(2); k < n; ++k) w += syllables[rng.bounded(16)];
        out << w;
    }
    return out.join(' ');
}

QByteArray alpacaRow(const QString& instruction, const QString& output) {
    return QJsonDocument(QJsonObject{{"instruction", instruction}, {"input", ""}, {"output", output}}).toJson(QJsonDocument::Compact) + "\n";
}

// The same words with each capitalised and punctuation put between them: what the harness's normalisation
// folds away (case, punctuation, whitespace).
QString edited(const QString& text) {
    QStringList out;
    const QStringList w = text.split(' ');
    for (int i = 0; i < w.size(); ++i) out << w[i].left(1).toUpper() + w[i].mid(1) + (i % 4 == 3 ? "," : "");
    return out.join("  ") + "?!";
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
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

    // Two eval items planted in a generated 40-row training file (one verbatim at line 7, one with its case
    // and punctuation changed at line 23), a third not planted: the Contamination tab lists exactly lines 7
    // and 23 with their items and overlaps, a click shows the row, and Write Clean Data writes the other 38
    // lines as they were. A task YAML over the same items finds the same rows.
    void plantedEvalItemsListedAndCleanDataWritten() {
        QRandomGenerator rng(18);
        const QStringList items = {words(rng, 20), words(rng, 24), words(rng, 18)};
        const QString evalFile = dir_.filePath("eval_items.jsonl");
        QByteArray evalText;
        for (const QString& item : items) evalText += QJsonDocument(QJsonObject{{"question", item}, {"answer", 1}}).toJson(QJsonDocument::Compact) + "\n";
        writeFile(evalFile, evalText);
        const QString trainFile = dir_.filePath("planted.jsonl");
        QList<QByteArray> lines;
        for (int line = 1; line <= 40; ++line) {
            if (line == 7) lines << alpacaRow(words(rng, 12), words(rng, 15) + " " + items[0] + " " + words(rng, 10));
            else if (line == 23) lines << alpacaRow("Answer this: " + edited(items[1]), words(rng, 30));
            else lines << alpacaRow(words(rng, 10 + rng.bounded(10)), words(rng, 20 + rng.bounded(30)));
        }
        writeFile(trainFile, lines.join());

        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        DatasetsPage* page = window.datasetsPage();
        window.showPage(page);
        QVERIFY(page->openFile(trainFile));
        QTRY_VERIFY_WITH_TIMEOUT(!page->report().isEmpty() && !page->isIndexing(), 60000);
        ContaminationView* view = page->contaminationView();
        child<QTabWidget>(page, "datasetTabs")->setCurrentWidget(view);
        auto* check = child<QPushButton>(view, "checkContamination");
        QVERIFY(!check->isEnabled());  // nothing to look for yet
        QVERIFY(!child<QPushButton>(view, "writeCleanData")->isEnabled());
        view->setEvalSources({evalFile});
        QVERIFY(check->isEnabled());
        QTest::mouseClick(check, Qt::LeftButton);
        QVERIFY(view->isRunning());
        QTRY_VERIFY_WITH_TIMEOUT(view->result().has_value(), 60000);

        const DecontaminationResult r = *view->result();
        QCOMPARE(r.rows, 40);
        QCOMPARE(r.contaminated_rows, 2);
        QCOMPARE(r.eval_items, 3);
        QCOMPARE(r.eval_items_found, 2);
        QCOMPARE(r.ngram, 13);
        ContaminationTableModel* model = view->resultModel();
        QCOMPARE(model->rowCount(), 2);
        auto cell = [&](int row, int column) { return model->data(model->index(row, column)).toString(); };
        QCOMPARE(cell(0, ContaminationTableModel::FileColumn), QString("planted.jsonl"));
        QCOMPARE(cell(0, ContaminationTableModel::LineColumn), QString("7"));
        QCOMPARE(cell(1, ContaminationTableModel::LineColumn), QString("23"));
        QCOMPARE(cell(0, ContaminationTableModel::EvalItemColumn), "eval_items.jsonl:1  " + items[0]);
        QCOMPARE(cell(1, ContaminationTableModel::EvalItemColumn), "eval_items.jsonl:2  " + items[1]);
        // Every n-gram of each item is in its row (20 words: 8 13-grams; 24 words: 12), and the longest
        // overlap is the whole item, normalised.
        QCOMPARE(cell(0, ContaminationTableModel::SharedColumn), QString("8 (item: 8)"));
        QCOMPARE(cell(1, ContaminationTableModel::SharedColumn), QString("12 (item: 12)"));
        QCOMPARE(cell(0, ContaminationTableModel::OverlapColumn), "20 words: " + items[0]);
        QCOMPARE(cell(1, ContaminationTableModel::OverlapColumn), "24 words: " + items[1]);
        QVERIFY2(view->statusText().contains("<b>2</b> of 40 rows of planted.jsonl contain eval items (2 of the 3 items found)"), qPrintable(view->statusText()));
        QVERIFY(view->resultTable()->isVisible());
        QVERIFY(!child<QLabel>(view, "contaminationEmpty")->isVisible());

        // A click on a result shows that row of the dataset.
        QTableView* results = view->resultTable();
        QTest::mouseClick(results->viewport(), Qt::LeftButton, {}, results->visualRect(model->index(1, 2)).center());
        QCOMPARE(page->table()->currentIndex().row(), 22);
        QTRY_VERIFY(page->renderMessage().contains("Line 23"));

        // The clean data: the 38 other lines, byte for byte as they were.
        QVERIFY(child<QPushButton>(view, "writeCleanData")->isEnabled());
        const QString cleanFile = dir_.filePath("planted.clean.jsonl");
        view->writeClean(cleanFile);
        QVERIFY(view->isRunning());
        QTRY_VERIFY_WITH_TIMEOUT(view->result().has_value(), 60000);
        QCOMPARE(view->result()->clean_file, cleanFile);
        QCOMPARE(view->result()->clean_rows, 38);
        QList<QByteArray> expected = lines;
        expected.removeAt(22);
        expected.removeAt(6);
        QCOMPARE(readAll(cleanFile), expected.join());
        QVERIFY2(view->cleanText().contains("Wrote 38 clean rows to " + cleanFile), qPrintable(view->cleanText()));
        QCOMPARE(model->rowCount(), 2);  // the writing run reports the same rows
        results->selectRow(1);
        QTest::qWait(100);
        QVERIFY(window.grab().save(screenshotPath("datasets_page_contamination")));

        // A task YAML whose test split is the same items: the same rows, each item named by its doc_id.
        const QString task = dir_.filePath("planted_task.yaml");
        writeFile(task, QString("task: planted\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: %1\ntest_split: test\n"
                                "output_type: generate_until\ndoc_to_text: \"{{question}}\"\ndoc_to_target: \"{{answer}}\"\n")
                            .arg(evalFile)
                            .toUtf8());
        view->setEvalSources({task});
        QVERIFY(!child<QPushButton>(view, "writeCleanData")->isEnabled());  // the result was for other sources
        QTest::mouseClick(check, Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(view->result().has_value(), 60000);
        QCOMPARE(view->result()->contaminated_rows, 2);
        QCOMPARE(model->rowCount(), 2);
        QCOMPARE(cell(0, ContaminationTableModel::LineColumn), QString("7"));
        QCOMPARE(cell(1, ContaminationTableModel::LineColumn), QString("23"));
        QCOMPARE(cell(0, ContaminationTableModel::EvalItemColumn), "planted_task.yaml: test doc 0  " + items[0]);
        QCOMPARE(cell(1, ContaminationTableModel::EvalItemColumn), "planted_task.yaml: test doc 1  " + items[1]);
    }

    // A file without eval items: "no overlap found" in place of the table, nothing to write. Cancel stops a
    // check; a training row the CLI cannot read and a missing eval file are errors that name the file.
    void cleanFileEmptyStateCancelAndErrors() {
        QRandomGenerator rng(1818);
        const QString evalFile = dir_.filePath("eval_clean_test.jsonl");
        writeFile(evalFile, QJsonDocument(QJsonObject{{"question", words(rng, 20)}}).toJson(QJsonDocument::Compact) + "\n");
        const QString trainFile = dir_.filePath("clean_train.jsonl");
        QByteArray text;
        for (int i = 0; i < 40; ++i) text += alpacaRow(words(rng, 12), words(rng, 30));
        writeFile(trainFile, text);

        DatasetsPage page;
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QVERIFY(page.openFile(trainFile));
        ContaminationView* view = page.contaminationView();
        child<QTabWidget>(&page, "datasetTabs")->setCurrentWidget(view);
        view->setEvalSources({evalFile});

        // Cancel: the CLI is still starting when it is pressed.
        view->check();
        auto* cancel = child<QPushButton>(view, "cancelContamination");
        QVERIFY(cancel->isVisible());
        QTest::mouseClick(cancel, Qt::LeftButton);
        QVERIFY(!view->isRunning());
        QVERIFY(!view->result().has_value());
        QVERIFY2(view->statusText().contains("cancelled"), qPrintable(view->statusText()));
        QVERIFY(!cancel->isVisible());

        view->check();
        QTRY_VERIFY_WITH_TIMEOUT(view->result().has_value(), 60000);
        QCOMPARE(view->result()->rows, 40);
        QCOMPARE(view->result()->contaminated_rows, 0);
        QCOMPARE(view->resultModel()->rowCount(), 0);
        auto* empty = child<QLabel>(view, "contaminationEmpty");
        QVERIFY(empty->isVisible());
        QVERIFY(!view->resultTable()->isVisible());
        QCOMPARE(empty->text(), QString("No overlap found in 40 rows of clean_train.jsonl."));
        QVERIFY(!child<QPushButton>(view, "writeCleanData")->isEnabled());
        QTest::qWait(100);
        QVERIFY(page.grab().save(screenshotPath("datasets_page_contamination_clean")));

        // A row the CLI cannot read: its error, with the file and line, in place of a result.
        const QString badFile = dir_.filePath("bad_train.jsonl");
        writeFile(badFile, alpacaRow("fine", "fine") + "{\"instruction\": \"unterminated}\n");
        QVERIFY(page.openFile(badFile));
        QVERIFY(!view->result().has_value());  // a new file clears the old result
        view->check();
        QTRY_VERIFY_WITH_TIMEOUT(!view->isRunning(), 60000);
        QVERIFY(!view->result().has_value());
        QVERIFY2(view->statusText().startsWith("Checking bad_train.jsonl for contamination failed: ") && view->statusText().contains(badFile + ":2"),
                 qPrintable(view->statusText()));

        view->setEvalSources({dir_.filePath("no_such_eval.jsonl")});
        view->check();
        QTRY_VERIFY_WITH_TIMEOUT(!view->isRunning(), 60000);
        QVERIFY2(view->statusText().contains(dir_.filePath("no_such_eval.jsonl") + ": cannot open"), qPrintable(view->statusText()));
        page.cancelInspection();
    }

    // Cancel while the clean data is being written (a 40 MB file, so the CLI is caught mid-way): neither the
    // clean file nor the temporary it was written into is left.
    void cancelledCleanWriteLeavesNothing() {
        QRandomGenerator rng(181818);
        const QString item = words(rng, 20);
        const QString evalFile = dir_.filePath("eval_big.jsonl");
        writeFile(evalFile, QJsonDocument(QJsonObject{{"question", item}}).toJson(QJsonDocument::Compact) + "\n");
        const QString trainFile = dir_.filePath("big_train.jsonl");
        {
            QFile f(trainFile);
            QVERIFY(f.open(QIODevice::WriteOnly));
            const QByteArray row = alpacaRow(words(rng, 40), words(rng, 60));  // one row repeated: writing 40 MB of new words takes long
            f.write(alpacaRow("Planted: " + item, "first"));
            for (qint64 written = 0; written < (40 << 20); written += row.size()) f.write(row);
        }
        const QString out = QDir(dir_.filePath("clean_out")).filePath("big.clean.jsonl");
        QDir().mkpath(QFileInfo(out).path());
        DatasetsPage page;
        page.show();
        QVERIFY(page.openFile(trainFile));
        page.cancelInspection();
        ContaminationView* view = page.contaminationView();
        view->setEvalSources({evalFile});
        view->writeClean(out);
        QVERIFY(view->isRunning());
        // The CLI writes into OUT.tmp-PID until it ends well.
        auto leftovers = [&] { return QDir(QFileInfo(out).path()).entryList(QDir::Files); };
        QTRY_VERIFY_WITH_TIMEOUT(!leftovers().isEmpty() || !view->isRunning(), 60000);
        if (!view->isRunning()) QSKIP("the CLI wrote 40 MB before the test saw its temporary file");
        QVERIFY2(leftovers().first().startsWith("big.clean.jsonl.tmp-"), qPrintable(leftovers().join(", ")));
        QTest::mouseClick(child<QPushButton>(view, "cancelContamination"), Qt::LeftButton);
        QVERIFY(!view->isRunning());
        QVERIFY(!view->result().has_value());
        QVERIFY2(leftovers().isEmpty(), qPrintable(leftovers().join(", ")));
        QVERIFY2(view->statusText().contains("cancelled; nothing was written"), qPrintable(view->statusText()));
    }
};

int runDatasetsPageTests(int argc, char** argv) {
    DatasetsPageTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_datasets.moc"
