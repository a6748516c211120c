#include "ui/generate_process.h"

#include <QJsonObject>

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

GenerateProcess::GenerateProcess(QObject* parent) : QObject(parent), child_(new LatheChildProcess("`lathe generate`", this)) {
    child_->setStripErrorPrefix(false);  // the Models and Chat pages show the CLI's error as it printed it
    connect(child_, &LatheChildProcess::linesRead, this, &GenerateProcess::readLines);
    connect(child_, &LatheChildProcess::ended, this, &GenerateProcess::onEnded);
}

void GenerateProcess::start(const GenerateRequest& request) {
    cancel();
    text_.clear();
    finish_reason_.clear();
    got_result_ = false;
    child_->start(generateArguments(request));
}

void GenerateProcess::cancel() { child_->cancel(); }

void GenerateProcess::readLines(const QList<QJsonObject>& lines) {
    for (const QJsonObject& j : lines) {
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

void GenerateProcess::onEnded(LatheChildProcess::End end, const QString& failure) {
    if (end == LatheChildProcess::End::Cancelled) emit cancelled();
    else if (end == LatheChildProcess::End::ExitedWell && got_result_) emit finished(text_, finish_reason_);
    else emit failed(failure);
}
