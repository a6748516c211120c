// One `lathe train` child process and its JSON-lines event stream (docs/events.md), as Qt signals.
//
// The trainer is started detached, in its own session, with stdout and stderr going to files that this
// object tails on a timer: the GUI thread never waits on it, and closing the GUI can leave the run going
// (a pipe to a closed GUI would kill it). Stop sends SIGTERM: the trainer saves a checkpoint, marks the
// run stopped and exits 0; resume is `lathe train --resume RUN_ID`.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>

#include "core/train/events.h"

class QTimer;

// How many processes a run starts: one (`lathe train`), or one rank per chosen GPU or several CPU
// processes, through `lathe launch --nproc-per-node N -- train` (docs/distributed.md).
struct RankLaunch {
    int processes = 1;
    QString cuda_visible_devices;  // the chosen GPUs ("0,2"), given to the ranks as CUDA_VISIBLE_DEVICES; empty: unchanged
    bool operator==(const RankLaunch&) const = default;
};

class TrainingSession : public QObject {
    Q_OBJECT
public:
    enum class State { Idle, Running, Stopping, Finished };
    Q_ENUM(State)

    explicit TrainingSession(QObject* parent = nullptr);
    ~TrainingSession() override;

    // Starts `lathe train CONFIG`, or `lathe launch --nproc-per-node N --master-port P -- train CONFIG` for
    // several ranks (rank 0 writes the events; stop reaches every rank through lathe launch); false (and
    // failed() emitted) when it could not be started.
    bool start(const QString& configPath, const RankLaunch& ranks = RankLaunch{});
    // The command line of the last start or resume (after the program), for the log and tests.
    QStringList lastArguments() const { return last_args_; }
    // Starts `lathe train --resume RUN_ID`: the run continues from its latest checkpoint.
    bool resume(qint64 runId, const RankLaunch& ranks = RankLaunch{});
    // What the last start or resume launched.
    RankLaunch ranks() const { return ranks_; }
    // SIGTERM: the trainer checkpoints and exits by itself (also after this GUI has gone).
    void stop();
    // Forgets the child without stopping it; it keeps running and keeps writing the run store.
    void detach();

    State state() const { return state_; }
    bool isRunning() const { return state_ == State::Running || state_ == State::Stopping; }
    qint64 runId() const { return run_id_; }
    qint64 pid() const { return pid_; }
    // Run store passed as --store; empty: the trainer's default ($LATHE_HOME/lathe.db, ...).
    void setStorePath(const QString& path) { store_path_ = path; }
    // The last stderr lines (the reason when the trainer died without an error event).
    QStringList stderrTail() const { return stderr_tail_; }

signals:
    void started(qint64 runId, qint64 startStep, qint64 totalSteps, const QString& device);
    void stepped(const lathe::StepEvent& step);
    // The validation set's loss.
    void evaluated(qint64 step, double evalLoss);
    // An eval event's projection of the final validation loss (from 20% of the run on).
    void validationProjected(qint64 step, const lathe::ProjectedLoss& projection);
    // A probe's loss (probe_datasets: general text, the new domain, ...), named by the probe.
    void probeEvaluated(qint64 step, const QString& probe, double loss);
    // One score of one of the run's eval_tasks (lm-evaluation-harness tasks): the harness's METRIC,FILTER.
    void taskScored(qint64 step, const QString& task, const QString& metric, const QString& filter, double value);
    void checkpointSaved(qint64 step, const QString& path);
    void warning(qint64 step, const QString& message);
    void stderrLine(const QString& line);
    // An `error` event, or a child that died without one: what happened and what to change (advice
    // chosen by the error's kind; `other` for a child that died without saying).
    void failed(const QString& reason, const QString& advice, lathe::ErrorKind kind);
    // The child is gone. status: the `end` event's (completed, stopped, failed); interrupted when a
    // run's process died without one; failed when it ended before a run existed.
    void finished(lathe::RunStatus status);

private:
    bool start(const QStringList& trainArgs, const RankLaunch& ranks);
    bool launch(const QStringList& args, const QString& cudaVisibleDevices = QString());
    void poll();
    void handleEvent(const lathe::EventLine& line);
    void readNew(class QFile& file, qint64& offset, QByteArray& partial, bool events);
    void finish(lathe::RunStatus status);

    QTimer* timer_;
    State state_ = State::Idle;
    qint64 pid_ = 0;
    qint64 run_id_ = 0;
    QString store_path_;
    QString events_path_, stderr_path_;
    qint64 events_offset_ = 0, stderr_offset_ = 0;
    QByteArray events_partial_, stderr_partial_;
    std::optional<lathe::RunStatus> end_status_;  // from the `end` event
    bool error_reported_ = false;
    QStringList stderr_tail_;
    QStringList last_args_;
    RankLaunch ranks_;
};

// What to change after a failure of this kind (the Monitor shows it under the error).
QString adviceFor(lathe::ErrorKind kind);

Q_DECLARE_METATYPE(lathe::StepEvent)
