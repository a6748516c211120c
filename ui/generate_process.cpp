#include "ui/generate_process.h"

#include <QJsonDocument>
#include <QJsonObject>

#include "ui/lathe_cli.h"

namespace {
constexpr qsizetype kStderrKept = 4096;
}

QStringList generateArguments(const GenerateRequest& r) {
    QStringList args = {"generate", "--stream", "--model", r.model_dir, "--prompt", r.prompt,
                        "--max-new-tokens", QString::number(r.max_new_tokens)};
    if (!r.adapter_dir.isEmpty()) args << "--adapter" << r.adapter_dir;
    if (r.chat) args << "--chat";
    if (r.greedy) {
        args << "--greedy";  // `lathe generate` refuses sampling flags beside --greedy
    } else {
        args << "--temperature" << QString::number(r.temperature) << "--top-k" << QString::number(r.top_k) << "--top-p"
             << QString::number(r.top_p) << "--seed" << QString::number(r.seed);
    }
    args << "--repetition-penalty" << QString::number(r.repetition_penalty);
    return args;
}

GenerateProcess::GenerateProcess(QObject* parent) : QObject(parent), process_(new QProcess(this)) {
    connect(process_, &QProcess::readyReadStandardOutput, this, &GenerateProcess::readLines);
    connect(process_, &QProcess::readyReadStandardError, this, [this] {
        stderr_ += process_->readAllStandardError();
        if (stderr_.size() > kStderrKept) stderr_ = stderr_.right(kStderrKept);
    });
    connect(process_, &QProcess::finished, this, &GenerateProcess::onFinished);
    connect(process_, &QProcess::errorOccurred, this, &GenerateProcess::onError);
}

GenerateProcess::~GenerateProcess() {
    // Never leave a child running after its window is gone.
    if (isRunning()) {
        process_->disconnect(this);
        process_->kill();
        process_->waitForFinished(2000);
    }
}

void GenerateProcess::start(const GenerateRequest& request) {
    if (isRunning()) cancel();
    pending_.clear();
    stderr_.clear();
    text_.clear();
    finish_reason_.clear();
    got_result_ = cancelling_ = reported_ = false;
    QString program = latheCliPath();
    if (program.isEmpty()) {
        reported_ = true;
        emit failed(tr("The `lathe` program was not found beside Lathe Studio or on PATH; set LATHE_CLI to its path."));
        return;
    }
    process_->start(program, generateArguments(request));
}

void GenerateProcess::cancel() {
    if (!isRunning()) return;
    cancelling_ = true;
    process_->kill();
    process_->waitForFinished(2000);  // a killed process ends at once; this just collects it
}

void GenerateProcess::readLines() {
    pending_ += process_->readAllStandardOutput();
    qsizetype newline;
    while ((newline = pending_.indexOf('\n')) >= 0) {
        QByteArray line = pending_.left(newline);
        pending_.remove(0, newline + 1);
        QJsonObject j = QJsonDocument::fromJson(line).object();
        if (j.contains("finish_reason")) {  // the result line
            got_result_ = true;
            text_ = j.value("text").toString();
            finish_reason_ = j.value("finish_reason").toString();
        } else if (j.contains("text")) {
            QString piece = j.value("text").toString();
            if (!piece.isEmpty()) emit textAdded(piece);
        } else if (j.contains("token")) {  // a model folder without a tokenizer: ids only
            emit textAdded(QString::number(j.value("token").toInteger()) + " ");
        }
    }
}

void GenerateProcess::onFinished(int code, QProcess::ExitStatus status) {
    readLines();
    if (reported_) return;
    reported_ = true;
    if (cancelling_) {
        emit cancelled();
    } else if (status == QProcess::NormalExit && code == 0 && got_result_) {
        emit finished(text_, finish_reason_);
    } else {
        QString why = QString::fromUtf8(stderr_).trimmed();
        if (why.isEmpty())
            why = status == QProcess::CrashExit ? tr("`lathe generate` crashed") : tr("`lathe generate` exited with code %1").arg(code);
        emit failed(why);
    }
}

void GenerateProcess::onError(QProcess::ProcessError error) {
    if (error != QProcess::FailedToStart || reported_) return;  // other errors also end in finished()
    reported_ = true;
    emit failed(tr("Could not start %1: %2").arg(process_->program(), process_->errorString()));
}
