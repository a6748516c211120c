// The Evaluate page: scores a run's base model, its checkpoints and its exports on the same
// lm-evaluation-harness tasks and shows them side by side. Each model is scored by a `lathe eval --json
// --record-run ID` child process (one after another), which keeps the scores in the run store beside the
// run; the table is read back from the store through the Studio's RunReader, so scores from earlier
// sessions (or from the CLI) show too. A change of the store rebuilds the run list, the models offered and
// the table only when what they show changed.
#pragma once

#include <QList>
#include <QStringList>
#include <QWidget>

namespace lathe {
class RunReader;
}

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QProcess;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;

class EvaluatePage : public QWidget {
    Q_OBJECT
public:
    // Runs and scores are read from `runs`; `lathe eval --store` is given its path.
    explicit EvaluatePage(const lathe::RunReader& runs, QWidget* parent = nullptr);
    ~EvaluatePage() override;

    QString storePath() const;
    // Chooses the run whose models are offered and whose scores are shown (0: the newest).
    void selectRun(qint64 runId);
    qint64 runId() const;
    void setTasks(const QStringList& taskFiles);
    void setLimit(int documents);  // 0: every document
    // Offers an export (a merged model folder) beside the run's own models, checked.
    void addModelFolder(const QString& dir);
    // What the list offers, as shown, and which are checked.
    QStringList targetNames() const;
    void setTargetChecked(const QString& name, bool checked);

    bool isRunning() const;
    // The table as shown: its column headers (models) and the cell of one task · metric row.
    QStringList resultColumns() const;
    QString resultCell(const QString& task, const QString& metric, const QString& model) const;
    QString errorText() const { return error_; }
    // How often the score table was rebuilt (a change of the store that leaves the shown run alone does not).
    int scoreReloads() const { return score_reloads_; }

public slots:
    // Reads the run list, the shown run's models and its scores again (another store was chosen).
    void refreshRuns();
    // The store was written (StudioRunStore::changed): each part is rebuilt only when what it shows changed.
    void storeChanged();
    // Scores every checked model on the tasks, one after another.
    void start();
    void stop();

signals:
    void statusMessage(const QString& text);
    void finished();

private:
    struct Target {
        QString name;       // shown in the list
        QStringList args;   // what picks it on `lathe eval`'s command line
    };
    void fillTargets();
    void startNext();
    void readOutput();
    void processFinished();
    void reloadScores();
    void fillRunList(bool always);
    // What the shown run's models (its checkpoints) and its scores (their count and the newest one's
    // time: scores are only ever added) are read from, to tell whether they changed.
    QString checkpointsSignature() const;
    QString scoresSignature() const;

    const lathe::RunReader& store_;
    QString listed_runs_;       // the run list as last shown (ids and names)
    QString shown_checkpoints_; // checkpointsSignature() when the models offered were last read
    QString shown_scores_;      // scoresSignature() when the table was last read
    int score_reloads_ = 0;
    QString error_;
    QList<Target> queue_;
    QProcess* process_ = nullptr;
    QByteArray pending_;
    QString current_;
    bool stopping_ = false;
    int total_targets_ = 0;
    QStringList extra_folders_;

    QComboBox* runs_;
    QLineEdit* tasks_;
    QSpinBox* limit_;
    QSpinBox* fewshot_;
    QListWidget* targets_;
    QPushButton* start_;
    QPushButton* stop_;
    QProgressBar* bar_;
    QLabel* progress_;
    QTableWidget* table_;
    QPlainTextEdit* log_;
};
