#include "ui/decontaminate_process.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "ui/lathe_cli.h"

namespace {
constexpr qsizetype kStderrKept = 4096;
}

QStringList decontaminateArguments(const DecontaminateRequest& r) {
    // TRAIN and --against both take several values: the options come first, --against last.
    QStringList args = {"data", "decontaminate", "--json", "--ngram", QString::number(r.ngram)};
    if (!r.write_clean.isEmpty()) args << "--write-clean" << r.write_clean;
    args << r.train_files << "--against" << r.eval_sources;
    return args;
}

bool parseContaminatedRow(const QJsonObject& j, ContaminatedRow& row) {
    if (j.value("event").toString() != "contaminated") return false;
    row.file = j.value("file").toString();
    row.line = j.value("line").toInteger();
    row.hits.clear();
    for (const QJsonValue& v : j.value("hits").toArray()) {
        const QJsonObject h = v.toObject();
        row.hits.append(ContaminationHit{
            .eval_file = h.value("eval_file").toString(),
            .eval_line = h.value("eval_line").toInteger(),
            .eval_location = h.value("eval_location").toString(),
            .eval_item = h.value("eval_item").toString(),
            .matched_ngrams = h.value("matched_ngrams").toInteger(),
            .eval_ngrams = h.value("eval_ngrams").toInteger(),
            .overlap_words = h.value("overlap_words").toInteger(),
            .overlap = h.value("overlap").toString(),
        });
    }
    return true;
}

DecontaminateProcess::DecontaminateProcess(QObject* parent) : QObject(parent), process_(new QProcess(this)) {
    connect(process_, &QProcess::readyReadStandardOutput, this, &DecontaminateProcess::readLines);
    connect(process_, &QProcess::readyReadStandardError, this, [this] {
        stderr_ += process_->readAllStandardError();
        if (stderr_.size() > kStderrKept) stderr_ = stderr_.right(kStderrKept);
    });
    connect(process_, &QProcess::finished, this, &DecontaminateProcess::onFinished);
    connect(process_, &QProcess::errorOccurred, this, &DecontaminateProcess::onError);
}

DecontaminateProcess::~DecontaminateProcess() {
    // Never leave a child running after its page is gone.
    if (isRunning()) {
        process_->disconnect(this);
        process_->kill();
        process_->waitForFinished(2000);
    }
}

void DecontaminateProcess::start(const DecontaminateRequest& request) {
    if (isRunning()) cancel();
    pending_.clear();
    stderr_.clear();
    result_ = {};
    write_clean_ = request.write_clean;
    got_result_ = cancelling_ = reported_ = false;
    const QString program = latheCliPath();
    if (program.isEmpty()) {
        reported_ = true;
        emit failed(tr("The `lathe` program was not found beside Lathe Studio or on PATH; set LATHE_CLI to its path."));
        return;
    }
    process_->start(program, decontaminateArguments(request));
}

void DecontaminateProcess::cancel() {
    if (!isRunning()) return;
    cancelling_ = true;
    const qint64 pid = process_->processId();
    process_->kill();
    process_->waitForFinished(2000);  // a killed process ends at once; this just collects it
    if (!write_clean_.isEmpty()) QFile::remove(write_clean_ + ".tmp-" + QString::number(pid));
}

void DecontaminateProcess::readLines() {
    pending_ += process_->readAllStandardOutput();
    QList<ContaminatedRow> rows;
    qsizetype start = 0, newline;
    while ((newline = pending_.indexOf('\n', start)) >= 0) {
        const QJsonObject j = QJsonDocument::fromJson(pending_.mid(start, newline - start)).object();
        start = newline + 1;
        ContaminatedRow row;
        if (parseContaminatedRow(j, row)) {
            rows.append(std::move(row));
        } else if (j.value("event").toString() == "result") {
            got_result_ = true;
            result_ = DecontaminationResult{
                .ngram = j.value("ngram").toInt(),
                .rows = j.value("rows").toInteger(),
                .contaminated_rows = j.value("contaminated_rows").toInteger(),
                .clean_rows = j.value("clean_rows").toInteger(),
                .eval_items = j.value("eval_items").toInteger(),
                .eval_items_found = j.value("eval_items_found").toInteger(),
                .eval_items_too_short = j.value("eval_items_too_short").toInteger(),
                .seconds = j.value("seconds").toDouble(),
                .mb_per_s = j.value("mb_per_s").toDouble(),
                .clean_file = j.value("clean_file").toString(),
            };
        }
    }
    pending_.remove(0, start);
    if (!rows.isEmpty()) emit rowsFound(rows);  // one signal per read: a heavily contaminated file sends thousands of lines
}

void DecontaminateProcess::onFinished(int code, QProcess::ExitStatus status) {
    readLines();
    if (reported_) return;
    reported_ = true;
    if (cancelling_) {
        emit cancelled();
    } else if (status == QProcess::NormalExit && code == 0 && got_result_) {
        emit finished(result_);
    } else {
        QString why = QString::fromUtf8(stderr_).trimmed();
        if (why.startsWith("lathe: error: ")) why = why.mid(14);
        if (why.isEmpty())
            why = status == QProcess::CrashExit ? tr("`lathe data decontaminate` crashed") : tr("`lathe data decontaminate` exited with code %1").arg(code);
        emit failed(why);
    }
}

void DecontaminateProcess::onError(QProcess::ProcessError error) {
    if (error != QProcess::FailedToStart || reported_) return;  // other errors also end in finished()
    reported_ = true;
    emit failed(tr("Could not start %1: %2").arg(process_->program(), process_->errorString()));
}
