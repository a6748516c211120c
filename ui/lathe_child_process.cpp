#include "ui/lathe_child_process.h"

#include <QJsonDocument>

#include "ui/lathe_cli.h"

namespace {
constexpr qsizetype kStderrKept = 4096;
}

LatheChildProcess::LatheChildProcess(const QString& command, QObject* parent)
    : QObject(parent), command_(command), process_(new QProcess(this)) {
    connect(process_, &QProcess::readyReadStandardOutput, this, &LatheChildProcess::readLines);
    connect(process_, &QProcess::readyReadStandardError, this, [this] {
        stderr_ += process_->readAllStandardError();
        if (stderr_.size() > kStderrKept) stderr_ = stderr_.right(kStderrKept);
    });
    connect(process_, &QProcess::finished, this, &LatheChildProcess::onFinished);
    connect(process_, &QProcess::errorOccurred, this, &LatheChildProcess::onError);
}

LatheChildProcess::~LatheChildProcess() {
    if (isRunning()) {
        process_->disconnect(this);  // its owner is going: nothing more is reported
        process_->kill();
        process_->waitForFinished(2000);
    }
}

void LatheChildProcess::start(const QStringList& args) {
    if (isRunning()) cancel();
    pending_.clear();
    stderr_.clear();
    cancelling_ = reported_ = false;
    const QString program = latheCliPath();
    if (program.isEmpty()) {
        report(End::Failed, tr("The `lathe` program was not found beside Lathe Studio or on PATH; set LATHE_CLI to its path."));
        return;
    }
    process_->start(program, args);
}

void LatheChildProcess::cancel() {
    if (!isRunning()) return;
    cancelling_ = true;
    process_->kill();
    process_->waitForFinished(2000);  // a killed process ends at once; this just collects it
}

void LatheChildProcess::readLines() {
    pending_ += process_->readAllStandardOutput();
    QList<QJsonObject> lines;
    qsizetype start = 0, newline;
    while ((newline = pending_.indexOf('\n', start)) >= 0) {
        lines.append(QJsonDocument::fromJson(pending_.mid(start, newline - start)).object());
        start = newline + 1;
    }
    pending_.remove(0, start);
    // One signal per read: a busy child prints thousands of lines, and an owner may batch what it sends on.
    if (!lines.isEmpty()) emit linesRead(lines);
}

void LatheChildProcess::onFinished(int code, QProcess::ExitStatus status) {
    readLines();
    if (cancelling_) {
        report(End::Cancelled, QString());
        return;
    }
    QString why = QString::fromUtf8(stderr_).trimmed();
    if (strip_error_prefix_ && why.startsWith("lathe: error: ")) why = why.mid(14);
    if (why.isEmpty())
        why = status == QProcess::CrashExit ? tr("%1 crashed").arg(command_) : tr("%1 exited with code %2").arg(command_).arg(code);
    report(status == QProcess::NormalExit && code == 0 ? End::ExitedWell : End::Failed, why);
}

void LatheChildProcess::onError(QProcess::ProcessError error) {
    if (error != QProcess::FailedToStart) return;  // other errors also end in finished()
    report(End::Failed, tr("Could not start %1: %2").arg(process_->program(), process_->errorString()));
}

void LatheChildProcess::report(End end, const QString& failure) {
    if (reported_) return;
    reported_ = true;
    emit ended(end, failure);
}
