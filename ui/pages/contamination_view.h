// The Datasets page's Contamination tab: the eval sets (data files, each row an item, or
// lm-evaluation-harness task YAMLs) to look for in the open dataset, a check that runs
// `lathe data decontaminate --json` in the background (busy bar, seconds, Cancel), the contaminated rows
// it reports (file, line, the eval item, the overlap) in a table, or "no overlap found in N rows", and
// the clean data (--write-clean) written to a file the user picks. Every figure shown is the CLI's.
#pragma once

#include <QElapsedTimer>
#include <QWidget>
#include <optional>

#include "ui/decontaminate_process.h"

class ContaminationTableModel;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;
class QTimer;

class ContaminationView : public QWidget {
    Q_OBJECT
public:
    explicit ContaminationView(QWidget* parent = nullptr);

    // The training data to check; a new file clears the result and cancels a running check.
    void setTrainingFile(const QString& path);
    QString trainingFile() const { return train_file_; }

    void setEvalSources(const QStringList& paths);
    QStringList evalSources() const;  // the comma-separated entries of the box
    void setNgram(int n);

    // Runs the check for the training file against the eval sources (a running one is cancelled).
    void check();
    // Runs it with --write-clean `out` (a .jsonl file): the rows without eval items.
    void writeClean(const QString& out);
    void chooseCleanFile();  // the save dialog, then writeClean
    void cancel();
    bool isRunning() const { return process_->isRunning(); }
    // Write Clean Data is offered once a check of these sources found contaminated rows.
    bool canWriteClean() const;

    ContaminationTableModel* resultModel() const { return model_; }
    QTableView* resultTable() const { return table_; }
    // The last finished run's figures (none before one, after a failure or a new file).
    std::optional<DecontaminationResult> result() const { return result_; }
    QString statusText() const;
    QString cleanText() const;

signals:
    // A result row was activated: show that row of the dataset.
    void rowActivated(const QString& file, qint64 line);

private:
    void start(const DecontaminateRequest& request);
    void onFinished(const DecontaminationResult& result);
    void onFailed(const QString& why);
    void updateActions();
    void showEmptyState(const QString& text);

    QString train_file_;
    DecontaminateProcess* process_;
    DecontaminateRequest running_, finished_;  // the request now running, and the one result_ came from
    std::optional<DecontaminationResult> result_;
    qint64 found_so_far_ = 0;
    QElapsedTimer clock_;
    QTimer* tick_;  // the seconds the check has taken, beside the busy bar

    QLineEdit* sources_;
    QSpinBox* ngram_;
    QPushButton* check_;
    QProgressBar* progress_;
    QLabel* progress_label_;
    QPushButton* cancel_;
    QLabel* status_;
    QLabel* empty_;
    QTableView* table_;
    ContaminationTableModel* model_;
    QPushButton* write_clean_;
    QLabel* clean_info_;
};
