// One `lathe` child process that prints JSON lines: finds the program (ui/lathe_cli.h), hands on its stdout
// a read at a time as parsed lines, keeps the end of its stderr for the error message, kills it on cancel
// or when its owner goes, and reports once how it ended. Its owners (GenerateProcess,
// DecontaminateProcess) build the arguments and make sense of the lines.
#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>

class LatheChildProcess : public QObject {
    Q_OBJECT
public:
    enum class End {
        ExitedWell,  // exit code 0; the owner still checks that its result line came
        Cancelled,
        Failed,
    };

    // `command` names the child in messages: "`lathe generate`".
    LatheChildProcess(const QString& command, QObject* parent);
    ~LatheChildProcess() override;  // never leaves a child running after its window is gone

    // Runs `lathe args`; one at a time (a running one is cancelled first). Without the program it ends
    // at once, Failed.
    void start(const QStringList& args);
    // Kills the child and collects it: a killed process ends at once. ended(Cancelled) comes before
    // this returns.
    void cancel();
    bool isRunning() const { return process_->state() != QProcess::NotRunning; }
    qint64 processId() const { return process_->processId(); }
    // By default the failure message drops the "lathe: error: " that the CLI puts before its errors.
    void setStripErrorPrefix(bool strip) { strip_error_prefix_ = strip; }

signals:
    // The whole lines of one read of stdout, in order (a line that is not a JSON object gives an empty one).
    void linesRead(const QList<QJsonObject>& lines);
    // Once per start. `failure` says why it failed (stderr's message, else how the child ended); it is
    // filled for ExitedWell too, for an owner whose result line never came.
    void ended(LatheChildProcess::End end, const QString& failure);

private:
    void readLines();
    void onFinished(int code, QProcess::ExitStatus status);
    void onError(QProcess::ProcessError error);
    void report(End end, const QString& failure);

    QString command_;
    QProcess* process_;
    QByteArray pending_;  // stdout bytes after the last newline
    QByteArray stderr_;   // the last few KiB, for the error message
    bool strip_error_prefix_ = true, cancelling_ = false, reported_ = false;
};
