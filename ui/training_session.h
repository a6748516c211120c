// One `lathe train` child process and its JSON-lines event stream (docs/events.md), as Qt signals.
//
// The trainer is started detached, in its own session, with stdout and stderr going to files that this
// object tails on a timer: the GUI thread never waits on it, and closing the GUI can leave the run going
// (a pipe to a closed GUI would kill it). Stop sends SIGTERM: the trainer saves a checkpoint, marks the
// run stopped and exits 0; resume is `lathe train --resume RUN_ID`.
#pragma once

#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QStringList>

class QTimer;

struct StepPoint {
    qint64 step = 0, total_steps = 0;
    double epoch = 0, loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0, elapsed_s = 0;
    double gpu_mem_gib = -1;  // < 0: the event carried none (CPU runs)
};

class TrainingSession : public QObject {
    Q_OBJECT
public:
    enum class State { Idle, Running, Stopping, Finished };
    Q_ENUM(State)

    explicit TrainingSession(QObject* parent = nullptr);
    ~TrainingSession() override;

    // Starts `lathe train CONFIG`; false (and failed() emitted) when it could not be started.
    bool start(const QString& configPath);
    // Starts `lathe train --resume RUN_ID`: the run continues from its latest checkpoint.
    bool resume(qint64 runId);
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
    void stepped(const StepPoint& p);
    void evaluated(qint64 step, double evalLoss);
    void checkpointSaved(qint64 step, const QString& path);
    void warning(qint64 step, const QString& message);
    void stderrLine(const QString& line);
    // An `error` event, or a child that died without one: what happened and what to change.
    void failed(const QString& reason, const QString& advice);
    // The child is gone. status: completed, stopped, failed (from the `end` event), or crashed.
    void finished(const QString& status);

private:
    bool launch(const QStringList& args);
    void poll();
    void handleEvent(const QJsonObject& e);
    void readNew(class QFile& file, qint64& offset, QByteArray& partial, bool events);
    void finish(const QString& status);

    QTimer* timer_;
    State state_ = State::Idle;
    qint64 pid_ = 0;
    qint64 run_id_ = 0;
    QString store_path_;
    QString events_path_, stderr_path_;
    qint64 events_offset_ = 0, stderr_offset_ = 0;
    QByteArray events_partial_, stderr_partial_;
    QString end_status_;  // from the `end` event
    bool error_reported_ = false;
    QStringList stderr_tail_;
};

Q_DECLARE_METATYPE(StepPoint)
