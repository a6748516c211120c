// One `lathe generate --stream` child process: builds its command line from a GenerateRequest, reads
// its JSON lines as they come and reports text pieces, the final result or the error, as signals.
// Knows nothing about pages.
#pragma once

#include <QObject>
#include <QProcess>
#include <QString>

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
    ~GenerateProcess() override;

    // Starts a generation; one at a time (a running one is cancelled first).
    void start(const GenerateRequest& request);
    // Kills the child: generation keeps no state worth saving.
    void cancel();
    bool isRunning() const { return process_->state() != QProcess::NotRunning; }

signals:
    void textAdded(const QString& piece);
    // `text` is the whole output as `lathe generate` prints it (cut at stop strings); `finishReason`:
    // length, eos, stop_sequence or stopped.
    void finished(const QString& text, const QString& finishReason);
    void failed(const QString& message);
    void cancelled();

private:
    void readLines();
    void onFinished(int code, QProcess::ExitStatus status);
    void onError(QProcess::ProcessError error);

    QProcess* process_;
    QByteArray pending_;     // stdout bytes after the last newline
    QByteArray stderr_;      // the last few KiB, for the error message
    QString text_, finish_reason_;
    bool got_result_ = false, cancelling_ = false, reported_ = false;
};
