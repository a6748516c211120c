// One `lathe generate --stream` child process: builds its command line from a GenerateRequest, reads
// its JSON lines as they come and reports text pieces, the final result or the error, as signals.
// The process itself (start, cancel, how it ended) is a LatheChildProcess. Knows nothing about pages.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>

#include "ui/lathe_child_process.h"

struct GenerateRequest {
    QString model_dir;
    QString adapter_dir;        // empty: the base model
    QString prompt;
    bool chat = false;          // send the prompt through the model's chat template
    int max_new_tokens = 64;
    bool greedy = false;
    double temperature = 1.0;
    int top_k = 0;              // 0 = all tokens
    double top_p = 1.0;
    double repetition_penalty = 1.0;
    quint64 seed = 0;
};

// The `lathe generate` arguments for `r` (without the program).
QStringList generateArguments(const GenerateRequest& r);

class GenerateProcess : public QObject {
    Q_OBJECT
public:
    explicit GenerateProcess(QObject* parent = nullptr);

    // Starts a generation; one at a time (a running one is cancelled first).
    void start(const GenerateRequest& request);
    // Kills the child: generation keeps no state worth saving.
    void cancel();
    bool isRunning() const { return child_->isRunning(); }

signals:
    void textAdded(const QString& piece);
    // `text` is the whole output as `lathe generate` prints it (cut at stop strings); `finishReason`:
    // length, eos, stop_sequence or stopped.
    void finished(const QString& text, const QString& finishReason);
    void failed(const QString& message);
    void cancelled();

private:
    void readLines(const QList<QJsonObject>& lines);
    void onEnded(LatheChildProcess::End end, const QString& failure);

    LatheChildProcess* child_;
    QString text_, finish_reason_;
    bool got_result_ = false;
};
