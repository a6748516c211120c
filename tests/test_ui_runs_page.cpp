// The Runs page over a real run store that `lathe train` wrote: the table, the details, refresh when the
// database changes, delete (through the confirmation), and the resume / open-charts signals.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "core/runs/run_store.h"
#include "tests/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/pages/runs_page.h"
#include "ui/pages/runs_table_model.h"
#include "ui/studio_run_store.h"

namespace {

QJsonArray listedByCli(const QString& db) {
    uitest::CliResult r = uitest::runLathe({"runs", "list", "--json", "--store", db});
    return QJsonDocument::fromJson(r.out.toUtf8()).array();
}

QString cell(QTableView* table, int row, int column) { return table->model()->index(row, column).data().toString(); }

QPushButton* button(QWidget* root, const QString& text) {
    for (QPushButton* b : root->findChildren<QPushButton*>())
        if (b->text() == text) return b;
    return nullptr;
}

}  // namespace

class RunsPageTest : public QObject {
    Q_OBJECT
private slots:
    void init() { QSettings().clear(); }

    void listsRunsFromTheStoreAndDeletes() {
        QTemporaryDir dir;
        QDir().mkpath(dir.filePath("model"));
        QString model = uitest::makeModelWithTokenizer(dir.filePath("model"));
        QString db = dir.filePath("lathe.db");
        uitest::CliResult first = uitest::trainTinyRun(model, dir.path(), db, "first");
        QVERIFY2(first.code == 0, qPrintable(first.err));

        MainWindow window;
        window.resize(1280, 800);
        window.show();
        RunsPage* page = window.runsPage();
        page->setStorePath(db);
        window.showPage(page);
        auto* table = page->findChild<QTableView*>();
        QCOMPARE(table->model()->rowCount(), 1);

        // A second run, while the page is open: it appears without a manual refresh.
        uitest::CliResult second = uitest::trainTinyRun(model, dir.path(), db, "second");
        QVERIFY2(second.code == 0, qPrintable(second.err));
        QTRY_COMPARE_WITH_TIMEOUT(table->model()->rowCount(), 2, 5000);

        // What `lathe runs list --json` says is what the table shows (newest first).
        QJsonArray cli = listedByCli(db);
        QCOMPARE(cli.size(), 2);
        for (int row = 0; row < 2; ++row) {
            QJsonObject run = cli[1 - row].toObject();
            QCOMPARE(cell(table, row, RunsTableModel::Id).toLongLong(), run["id"].toInteger());
            QCOMPARE(cell(table, row, RunsTableModel::Status), run["status"].toString());
            QCOMPARE(cell(table, row, RunsTableModel::Status), QString("completed"));
            QCOMPARE(cell(table, row, RunsTableModel::Model), QString("model"));
            QCOMPARE(cell(table, row, RunsTableModel::Method), QString("LoRA, continued pretraining"));
            QJsonObject metrics = run["final_metrics"].toObject();
            QCOMPARE(cell(table, row, RunsTableModel::Steps).toLongLong(), metrics["step"].toInteger());
            QCOMPARE(cell(table, row, RunsTableModel::Loss), QString::number(metrics["loss"].toDouble(), 'f', 4));
            QVERIFY(!cell(table, row, RunsTableModel::Started).isEmpty());
            QVERIFY(!cell(table, row, RunsTableModel::Ended).isEmpty());
        }

        // Details of the selected (newest) run: its YAML, final metrics and checkpoints.
        qint64 newest = cli[1].toObject()["id"].toInteger();
        QCOMPARE(page->selectedRun(), cli[0].toObject()["id"].toInteger());  // the selection stays on refresh
        page->selectRun(newest);
        QCOMPARE(page->selectedRun(), newest);
        QFile yaml(dir.filePath("second.yaml"));
        yaml.open(QIODevice::ReadOnly);
        bool config_shown = false;
        for (QPlainTextEdit* e : page->findChildren<QPlainTextEdit*>()) config_shown |= e->toPlainText() == QString::fromUtf8(yaml.readAll());
        QVERIFY(config_shown);
        auto* checkpoints = page->findChild<QListWidget*>("runCheckpoints");
        auto store = lathe::RunStore::open(db.toStdString());
        auto recorded = store->checkpoints(newest);
        QVERIFY(!recorded.empty());
        QCOMPARE(checkpoints->count(), static_cast<int>(recorded.size()));
        QCOMPARE(checkpoints->item(0)->data(Qt::UserRole).toString(), QString::fromStdString(recorded[0].path));
        QVERIFY(checkpoints->item(0)->text().contains(QString("step %1").arg(recorded[0].step)));
        QVERIFY(page->findChild<QLabel*>("runMetrics")->text().contains("loss"));
        QVERIFY(uitest::saveScreenshot(&window, "runs_page"));

        // Open charts asks the Monitor page; resume is offered only for a run that did not finish.
        QSignalSpy charts(page, &RunsPage::openRunRequested);
        QSignalSpy resume(page, &RunsPage::resumeRequested);
        button(page, "Open Charts")->click();
        QCOMPARE(charts.count(), 1);
        QCOMPARE(charts[0][0].toLongLong(), newest);
        QVERIFY(!button(page, "Resume")->isEnabled());
        store->set_status(newest, lathe::RunStatus::stopped);  // as `lathe train` records a run stopped by SIGTERM
        QTRY_COMPARE_WITH_TIMEOUT(cell(table, 0, RunsTableModel::Status), QString("stopped"), 5000);
        QVERIFY(button(page, "Resume")->isEnabled());
        button(page, "Resume")->click();
        QCOMPARE(resume.count(), 1);
        QCOMPARE(resume[0][0].toLongLong(), newest);

        // Delete: cancelling keeps the run; confirming removes it from the store.
        auto answer = [](QMessageBox::StandardButton which) {
            QTimer::singleShot(0, [which] {
                for (QWidget* w : QApplication::topLevelWidgets())
                    if (auto* box = qobject_cast<QMessageBox*>(w)) box->button(which)->click();
            });
        };
        answer(QMessageBox::Cancel);
        page->deleteSelectedRun();
        QCOMPARE(listedByCli(db).size(), 2);
        answer(QMessageBox::Yes);
        page->deleteSelectedRun();
        QCOMPARE(table->model()->rowCount(), 1);
        QJsonArray left = listedByCli(db);
        QCOMPARE(left.size(), 1);
        QCOMPARE(left[0].toObject()["id"].toInteger(), cli[0].toObject()["id"].toInteger());
        QVERIFY(QFileInfo::exists(QString::fromStdString(recorded[0].path)));  // files stay on disk
    }

    void aRunInProgressShowsItsLatestStep() {
        // What `lathe train` has recorded a few steps into a run: no final metrics yet.
        QTemporaryDir dir;
        QString db = dir.filePath("lathe.db");
        {
            auto store = lathe::RunStore::open(db.toStdString());
            lathe::RunRecord r;
            r.name = "live";
            r.model = "/models/tiny";
            r.config_text = "base_model: /models/tiny\nadapter: lora\nlora_target_linear: true\npeft_use_dora: true\ndatasets: [d.jsonl]\noutput_dir: /runs/live\n";
            int64_t id = store->create_run(r);
            store->set_status(id, lathe::RunStatus::running);
            store->add_metrics(id, {{1, "loss", 2.5}, {1, "lr", 1e-4}, {2, "loss", 2.25}});
        }
        StudioRunStore store;
        store.setPath(db);
        RunsPage page(store);
        auto* table = page.findChild<QTableView*>();
        QCOMPARE(table->model()->rowCount(), 1);
        QCOMPARE(cell(table, 0, RunsTableModel::Status), QString("running"));
        QCOMPARE(cell(table, 0, RunsTableModel::Method), QString("DoRA"));
        QCOMPARE(cell(table, 0, RunsTableModel::Steps), QString("2"));
        QCOMPARE(cell(table, 0, RunsTableModel::Loss), QString("2.2500"));
        QVERIFY(cell(table, 0, RunsTableModel::Ended).isEmpty());
        QVERIFY(!button(&page, "Resume")->isEnabled());  // still running (in this process): not resumed twice
    }

    void missingStoreSaysSoAndCreatesNothing() {
        QTemporaryDir dir;
        StudioRunStore store;
        store.setPath(dir.filePath("none.db"));
        RunsPage page(store);
        QCOMPARE(page.findChild<QTableView*>()->model()->rowCount(), 0);
        QVERIFY(!QFileInfo::exists(dir.filePath("none.db")));
    }

    // The window's one store: it answers "no runs" until `lathe train` creates the database, then sees
    // what is written there, and tells the pages when it changes or another database is chosen.
    void studioStoreFollowsTheDatabase() {
        QTemporaryDir dir;
        StudioRunStore store;
        QSignalSpy changed(&store, &StudioRunStore::changed);
        QSignalSpy moved(&store, &StudioRunStore::pathChanged);
        store.setPath(dir.filePath("lathe.db"));
        QCOMPARE(moved.count(), 1);
        QVERIFY(!store.exists());
        QVERIFY(store.list_runs().empty());
        QVERIFY(!store.find_run(1));
        QVERIFY(!QFileInfo::exists(dir.filePath("lathe.db")));  // reading creates nothing

        changed.clear();
        int64_t id = 0;
        {
            auto writer = lathe::RunStore::open(dir.filePath("lathe.db").toStdString());  // as `lathe train` does
            lathe::RunRecord r;
            r.name = "written elsewhere";
            id = writer->create_run(r);
            writer->add_metrics(id, {{1, "loss", 2.5}});
        }
        QTRY_VERIFY(changed.count() >= 1);  // noticed by the poll
        QCOMPARE(store.list_runs().size(), size_t(1));
        QCOMPARE(store.find_run(id)->name, std::string("written elsewhere"));
        QCOMPARE(store.metrics(id, "loss").size(), size_t(1));
        QVERIFY(store.deleteRun(id));
        QVERIFY(store.list_runs().empty());
        QCOMPARE(lathe::RunStore::open(dir.filePath("lathe.db").toStdString())->list_runs().size(), size_t(0));

        store.setPath(dir.filePath("other.db"));
        QCOMPARE(moved.count(), 2);
        QCOMPARE(store.path(), dir.filePath("other.db").toStdString());
        QVERIFY(store.list_runs().empty());
    }
};

int runRunsPageTests(int argc, char** argv) {
    RunsPageTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_runs_page.moc"
