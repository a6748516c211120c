#include "ui/decontaminate_process.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonObject>

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

DecontaminateProcess::DecontaminateProcess(QObject* parent)
    : QObject(parent), child_(new LatheChildProcess("`lathe data decontaminate`", this)) {
    connect(child_, &LatheChildProcess::linesRead, this, &DecontaminateProcess::readLines);
    connect(child_, &LatheChildProcess::ended, this, &DecontaminateProcess::onEnded);
}

void DecontaminateProcess::start(const DecontaminateRequest& request) {
    cancel();
    result_ = {};
    write_clean_ = request.write_clean;
    got_result_ = false;
    child_->start(decontaminateArguments(request));
}

void DecontaminateProcess::cancel() {
    if (!isRunning()) return;
    const qint64 pid = child_->processId();
    child_->cancel();
    if (!write_clean_.isEmpty()) QFile::remove(write_clean_ + ".tmp-" + QString::number(pid));
}

void DecontaminateProcess::readLines(const QList<QJsonObject>& lines) {
    QList<ContaminatedRow> rows;
    for (const QJsonObject& j : lines) {
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
    if (!rows.isEmpty()) emit rowsFound(rows);  // one signal per read: a heavily contaminated file sends thousands of lines
}

void DecontaminateProcess::onEnded(LatheChildProcess::End end, const QString& failure) {
    if (end == LatheChildProcess::End::Cancelled) emit cancelled();
    else if (end == LatheChildProcess::End::ExitedWell && got_result_) emit finished(result_);
    else emit failed(failure);
}
