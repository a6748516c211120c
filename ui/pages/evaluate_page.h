// The Evaluate page: scores a run's base model, its checkpoints and its exports on the same
// lm-evaluation-harness tasks and shows them side by side. Each model is scored by a `lathe eval --json
// --record-run ID` child process (one after another), which keeps the scores in the run store beside the
// run; the table is read back from the store, so scores from earlier sessions (or from the CLI) show too.
#pragma once

#include <QList>
#include <QStringList>
#include <QWidget>

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
    explicit EvaluatePage(QWidget* parent = nullptr);
    ~EvaluatePage() override;

    void setStorePath(const QString& path);
    QString storePath() const { return store_path_; }
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

public slots:
    void refreshRuns();
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

    QString store_path_;
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
