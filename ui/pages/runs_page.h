// The Runs page: the history in the SQLite run store (`lathe train` records every run there): a table
// of runs and, for the selected one, its config, final metrics and checkpoints. Delete a run, ask to
// resume it or to open its charts (the Monitor page does those: see the signals).
#pragma once

#include <QString>
#include <QWidget>

class QLabel;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QTableView;
class RunsTableModel;
class StudioRunStore;

class RunsPage : public QWidget {
    Q_OBJECT
public:
    // Shows the runs in `store` (the main window's), and is where the Studio changes database.
    explicit RunsPage(StudioRunStore& store, QWidget* parent = nullptr);
    ~RunsPage() override;

    // The database `lathe train --store` writes (the store's path: every page follows it).
    void setStorePath(const QString& path);
    QString storePath() const;
    void chooseStorePath();  // a file dialog

    // Re-reads the store now (it is also re-read whenever the database files change).
    void reload();
    void selectRun(qint64 run_id);
    qint64 selectedRun() const;  // 0 when none
    // Asks for confirmation, then removes the selected run's records (its files stay on disk).
    void deleteSelectedRun();

signals:
    // The Monitor page resumes a stopped or crashed run (`lathe train --resume ID`).
    void resumeRequested(qint64 runId);
    // The Monitor page shows a run's recorded charts.
    void openRunRequested(qint64 runId);
    // The export wizard for this run (it has a checkpoint on disk).
    void exportRequested(qint64 runId);
    void runsChanged();
    void statusMessage(const QString& text);

private:
    void showDetails();
    void showStorePath();

    StudioRunStore& store_;
    bool readable_ = false;  // the last reload read the store

    QLabel* store_label_;
    QLabel* message_;
    QTableView* table_;
    RunsTableModel* model_;
    QLabel* details_title_;
    QPlainTextEdit* config_;
    QLabel* metrics_;
    QListWidget* checkpoints_;
    QPushButton* resume_;
    QPushButton* charts_;
    QPushButton* export_;
    QPushButton* delete_;
};
