// One `lathe data decontaminate --json` child process: builds its command line, reads its JSON lines as
// they come (a `contaminated` line per training row that holds eval items, then the `result` line) and
// reports them as signals carrying plain values. The process itself (start, cancel, how it ended) is a
// LatheChildProcess. Knows nothing about pages.
#pragma once

#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include "ui/lathe_child_process.h"

// One eval item found in a training row: the fields of a `contaminated` line's `hits` (docs/data.md).
struct ContaminationHit {
    QString eval_file;
    qint64 eval_line = 0;      // 1-based line of a data file; a task's doc_id
    QString eval_location;     // "eval.jsonl:3", "task.yaml: test doc 3" (with the paths as given)
    QString eval_item;         // the item's text
    qint64 matched_ngrams = 0; // the row's n-grams that are n-grams of the item
    qint64 eval_ngrams = 0;    // the item's n-grams
    qint64 overlap_words = 0;  // the longest run of shared words
    QString overlap;           // those words, normalised
};

// A `contaminated` line: a training row and the eval items in it.
struct ContaminatedRow {
    QString file;
    qint64 line = 0;
    QList<ContaminationHit> hits;
};

// The `result` line's figures.
struct DecontaminationResult {
    int ngram = 0;
    qint64 rows = 0;
    qint64 contaminated_rows = 0;
    qint64 clean_rows = 0;
    qint64 eval_items = 0;
    qint64 eval_items_found = 0;
    qint64 eval_items_too_short = 0;  // fewer words than ngram: these can never be found
    double seconds = 0;
    double mb_per_s = 0;
    QString clean_file;  // where --write-clean wrote the clean rows ("" without it)
};

struct DecontaminateRequest {
    QStringList train_files;
    QStringList eval_sources;  // eval data files (each row an item) or lm-evaluation-harness task YAMLs
    int ngram = 13;
    QString write_clean;       // a .jsonl file for the rows without contamination; "" = none
};

// The `lathe` arguments for `r` (without the program).
QStringList decontaminateArguments(const DecontaminateRequest& r);

// Parses one `contaminated` line's object; false when it is not one.
bool parseContaminatedRow(const QJsonObject& line, ContaminatedRow& row);

class DecontaminateProcess : public QObject {
    Q_OBJECT
public:
    explicit DecontaminateProcess(QObject* parent = nullptr);

    // Starts a check; one at a time (a running one is cancelled first).
    void start(const DecontaminateRequest& request);
    // Kills the child. --write-clean writes into OUT.tmp-PID (core/util/atomic_file) and renames it only
    // when the run ends well; a cancelled write removes that temporary, so nothing of it is left.
    void cancel();
    bool isRunning() const { return child_->isRunning(); }

signals:
    // Training rows with eval items in them, in file order, as the child prints them.
    void rowsFound(const QList<ContaminatedRow>& rows);
    void finished(const DecontaminationResult& result);
    void failed(const QString& message);  // the child's own error (it names the file and line), or why it did not run
    void cancelled();

private:
    void readLines(const QList<QJsonObject>& lines);
    void onEnded(LatheChildProcess::End end, const QString& failure);

    LatheChildProcess* child_;
    QString write_clean_;  // the running request's --write-clean
    DecontaminationResult result_;
    bool got_result_ = false;
};
