#include "ui/pages/evaluate_page.h"

#include "ui/process_log.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFont>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMap>
#include <QPlainTextEdit>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "core/runs/run_reader.h"
#include "core/train/train_config.h"
#include "core/train/training_method.h"
#include "ui/lathe_cli.h"

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

// Lower is better for these (perplexities, bits per byte); higher for accuracies and matches.
bool lowerIsBetter(const QString& metric) { return metric.contains("perplexity") || metric.contains("bits_per_byte"); }

QString rowName(const lathe::EvalScore& s) {
    return s.filter == "none" ? q(s.task) + " · " + q(s.metric) : q(s.task) + " · " + q(s.metric) + " (" + q(s.filter) + ")";
}

}  // namespace

EvaluatePage::EvaluatePage(const lathe::RunReader& runs, QWidget* parent) : QWidget(parent), store_(runs) {
    runs_ = new QComboBox(this);
    runs_->setObjectName("evalRun");
    runs_->setToolTip(tr("The run whose base model and checkpoints are offered, and beside which the scores are kept"));
    tasks_ = new QLineEdit(this);
    tasks_->setObjectName("evalTasks");
    tasks_->setPlaceholderText(tr("lm-evaluation-harness task YAML files, separated by commas"));
    auto* browseTasks = new QPushButton(tr("Browse…"), this);
    connect(browseTasks, &QPushButton::clicked, this, [this] {
        const QStringList files = QFileDialog::getOpenFileNames(this, tr("Task Files"), QFileInfo(tasks_->text().section(',', 0, 0)).path(),
                                                                tr("Task YAML (*.yaml *.yml);;All files (*)"));
        if (!files.isEmpty()) setTasks(files);
    });
    auto* taskRow = new QHBoxLayout;
    taskRow->addWidget(tasks_, 1);
    taskRow->addWidget(browseTasks);
    limit_ = new QSpinBox(this);
    limit_->setObjectName("evalLimit");
    limit_->setRange(0, 100000000);
    limit_->setSpecialValueText(tr("every document"));
    limit_->setToolTip(tr("score the first N documents of each task (a quick look; the standard error grows)"));
    fewshot_ = new QSpinBox(this);
    fewshot_->setObjectName("evalFewshot");
    fewshot_->setRange(-1, 100);
    fewshot_->setValue(-1);
    fewshot_->setSpecialValueText(tr("the task's own"));

    targets_ = new QListWidget(this);
    targets_->setObjectName("evalTargets");
    targets_->setToolTip(tr("Each checked model is scored on the tasks, one after another"));
    auto* addFolder = new QPushButton(tr("Add Export…"), this);
    addFolder->setToolTip(tr("A merged model folder exported from this run (or any model to compare with)"));
    connect(addFolder, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Model Folder"));
        if (!dir.isEmpty()) addModelFolder(dir);
    });
    start_ = new QPushButton(tr("Evaluate"), this);
    start_->setObjectName("evalStart");
    start_->setDefault(true);
    stop_ = new QPushButton(tr("Stop"), this);
    stop_->setObjectName("evalStop");
    stop_->setEnabled(false);
    connect(start_, &QPushButton::clicked, this, &EvaluatePage::start);
    connect(stop_, &QPushButton::clicked, this, &EvaluatePage::stop);
    bar_ = new QProgressBar(this);
    bar_->setRange(0, 1000);
    progress_ = new QLabel(this);
    progress_->setObjectName("evalProgress");
    progress_->setWordWrap(true);

    table_ = new QTableWidget(this);
    table_->setObjectName("evalResults");
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    log_ = new QPlainTextEdit(this);
    log_->setObjectName("evalLog");
    log_->setReadOnly(true);
    log_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    log_->setMaximumBlockCount(2000);

    auto* form = new QFormLayout;
    form->addRow(tr("Run"), runs_);
    form->addRow(tr("Tasks"), taskRow);
    form->addRow(tr("Documents"), limit_);
    form->addRow(tr("Few-shot"), fewshot_);
    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addLayout(form);
    leftLayout->addWidget(new QLabel(tr("Models to score"), left));
    leftLayout->addWidget(targets_, 1);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(addFolder);
    buttons->addStretch(1);
    buttons->addWidget(stop_);
    buttons->addWidget(start_);
    leftLayout->addLayout(buttons);
    leftLayout->addWidget(bar_);
    leftLayout->addWidget(progress_);
    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(new QLabel(tr("<b>Scores</b> — mean ± standard error; the best of each row in bold (none for a tie)"), right));
    rightLayout->addWidget(table_, 3);
    rightLayout->addWidget(log_, 1);
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(right);
    split->setStretchFactor(1, 1);
    split->setSizes({420, 860});
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(runs_, QOverload<int>::of(&QComboBox::currentIndexChanged), this, [this] {
        fillTargets();
        reloadScores();
    });
    refreshRuns();
}

EvaluatePage::~EvaluatePage() {
    if (process_) {
        process_->disconnect(this);
        process_->kill();
        process_->waitForFinished(5000);
    }
}

QString EvaluatePage::storePath() const { return q(store_.path()); }

void EvaluatePage::refreshRuns() {
    fillRunList(true);
    fillTargets();
    reloadScores();
}

void EvaluatePage::storeChanged() {
    fillRunList(false);
    if (checkpointsSignature() != shown_checkpoints_) fillTargets();
    if (scoresSignature() != shown_scores_) reloadScores();
}

// The runs, newest first, each with its training method (read from its YAML, so only when the list of runs
// differs from the one shown, or `always`).
void EvaluatePage::fillRunList(bool always) {
    std::vector<lathe::RunRecord> runs;
    try {
        runs = store_.list_runs();
    } catch (const std::exception& e) {
        emit statusMessage(tr("Cannot read the run store: %1").arg(QString::fromUtf8(e.what())));
    }
    std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.id > b.id; });
    QString listed = q(store_.path());
    for (const lathe::RunRecord& r : runs) listed += QString("\n%1 %2 %3").arg(r.id).arg(q(r.name), q(r.model));
    if (!always && listed == listed_runs_) return;
    listed_runs_ = listed;
    const qint64 keep = runId();
    QSignalBlocker block(runs_);
    runs_->clear();
    for (const lathe::RunRecord& r : runs) {
        QString method;
        try {
            method = q(lathe::method_label(lathe::parse_train_config(r.config_text, "run.yaml")));
        } catch (const std::exception&) {
        }
        runs_->addItem(tr("#%1 %2 — %3").arg(r.id).arg(q(r.name), method.isEmpty() ? q(r.model) : method), QVariant::fromValue<qint64>(r.id));
    }
    const int i = runs_->findData(QVariant::fromValue<qint64>(keep));
    runs_->setCurrentIndex(i >= 0 ? i : 0);
}

QString EvaluatePage::checkpointsSignature() const {
    const qint64 id = runId();
    QString signature = QString("%1 %2").arg(q(store_.path())).arg(id);
    try {
        if (id > 0)
            for (const lathe::CheckpointRecord& c : store_.checkpoints(id)) signature += QString(" %1:%2").arg(c.step).arg(q(c.path));
    } catch (const std::exception&) {
        signature += " unreadable";
    }
    return signature;
}

QString EvaluatePage::scoresSignature() const {
    const qint64 id = runId();
    QString signature = QString("%1 %2").arg(q(store_.path())).arg(id);
    try {
        const std::vector<lathe::EvalScore> scores = id > 0 ? store_.eval_scores(id) : std::vector<lathe::EvalScore>{};
        signature += QString(" %1").arg(scores.size());
        if (!scores.empty()) signature += QString(" %1").arg(scores.back().time, 0, 'f', 6);
    } catch (const std::exception&) {
        signature += " unreadable";
    }
    return signature;
}

void EvaluatePage::selectRun(qint64 id) {
    if (id == 0) {
        runs_->setCurrentIndex(0);
    } else {
        const int i = runs_->findData(QVariant::fromValue<qint64>(id));
        if (i >= 0) runs_->setCurrentIndex(i);
    }
}

qint64 EvaluatePage::runId() const { return runs_->currentIndex() >= 0 ? runs_->currentData().toLongLong() : 0; }

void EvaluatePage::setTasks(const QStringList& files) { tasks_->setText(files.join(',')); }
void EvaluatePage::setLimit(int documents) { limit_->setValue(documents); }

// The run's base model, each checkpoint still on disk, and the folders added by hand.
void EvaluatePage::fillTargets() {
    QMap<QString, bool> checked;
    for (int i = 0; i < targets_->count(); ++i) checked[targets_->item(i)->text()] = targets_->item(i)->checkState() == Qt::Checked;
    targets_->clear();
    auto add = [&](const QString& name, const QStringList& args, const QString& tip, bool on) {
        auto* item = new QListWidgetItem(name, targets_);
        item->setData(Qt::UserRole, args);
        item->setToolTip(tip);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(checked.value(name, on) ? Qt::Checked : Qt::Unchecked);
    };
    shown_checkpoints_ = checkpointsSignature();
    const qint64 id = runId();
    if (id > 0) {
        try {
            if (auto run = store_.find_run(id)) {
                add(tr("base"), {"--model", q(run->model)}, q(run->model), true);
                const auto checkpoints = store_.checkpoints(id);
                for (size_t k = 0; k < checkpoints.size(); ++k) {
                    if (!QFileInfo::exists(q(checkpoints[k].path))) continue;  // removed by save_total_limit
                    const QString step = QString::number(checkpoints[k].step);
                    add(tr("checkpoint %1").arg(step), {"--run", QString::number(id), "--checkpoint", step}, q(checkpoints[k].path),
                        k + 1 == checkpoints.size());
                }
            }
        } catch (const std::exception& e) {
            emit statusMessage(tr("Cannot read the run store: %1").arg(QString::fromUtf8(e.what())));
        }
    }
    for (const QString& dir : extra_folders_) add(tr("model %1").arg(dir), {"--model", dir}, dir, true);
}

void EvaluatePage::addModelFolder(const QString& dir) {
    if (!extra_folders_.contains(dir)) extra_folders_ << dir;
    fillTargets();
}

QStringList EvaluatePage::targetNames() const {
    QStringList names;
    for (int i = 0; i < targets_->count(); ++i) names << targets_->item(i)->text();
    return names;
}

void EvaluatePage::setTargetChecked(const QString& name, bool on) {
    for (int i = 0; i < targets_->count(); ++i)
        if (targets_->item(i)->text() == name) targets_->item(i)->setCheckState(on ? Qt::Checked : Qt::Unchecked);
}

bool EvaluatePage::isRunning() const { return process_ != nullptr; }

void EvaluatePage::start() {
    if (isRunning()) return;
    error_.clear();
    const QStringList tasks = tasks_->text().split(',', Qt::SkipEmptyParts);
    if (runId() <= 0) error_ = tr("Choose a run: the scores are kept beside it.");
    else if (tasks.isEmpty()) error_ = tr("Choose one or more task YAML files (lm-evaluation-harness format).");
    for (const QString& t : tasks)
        if (error_.isEmpty() && !QFileInfo(t.trimmed()).isFile()) error_ = tr("%1: no such task file.").arg(t.trimmed());
    queue_.clear();
    for (int i = 0; i < targets_->count(); ++i)
        if (targets_->item(i)->checkState() == Qt::Checked) queue_.append({targets_->item(i)->text(), targets_->item(i)->data(Qt::UserRole).toStringList()});
    if (error_.isEmpty() && queue_.isEmpty()) error_ = tr("Check at least one model to score.");
    if (latheCliPath().isEmpty()) error_ = tr("The `lathe` program was not found next to Lathe Studio or on PATH.");
    if (!error_.isEmpty()) {
        progress_->setText(QString("<span style='color:#c62828'>%1</span>").arg(error_.toHtmlEscaped()));
        emit finished();
        return;
    }
    total_targets_ = static_cast<int>(queue_.size());
    stopping_ = false;
    bar_->setValue(0);
    start_->setEnabled(false);
    stop_->setEnabled(true);
    startNext();
}

void EvaluatePage::stop() {
    if (!process_) return;
    stopping_ = true;
    queue_.clear();
    process_->terminate();
}

void EvaluatePage::startNext() {
    if (queue_.isEmpty()) {
        start_->setEnabled(true);
        stop_->setEnabled(false);
        bar_->setValue(1000);
        progress_->setText(error_.isEmpty() ? tr("Done: %n model(s) scored.", "", total_targets_)
                                            : QString("<span style='color:#c62828'>%1</span>").arg(error_.toHtmlEscaped()));
        reloadScores();
        emit finished();
        return;
    }
    const Target t = queue_.takeFirst();
    current_ = t.name;
    QStringList args{"eval", "--tasks", tasks_->text(), "--json", "--store", storePath(), "--record-run", QString::number(runId())};
    if (limit_->value() > 0) args << "--limit" << QString::number(limit_->value());
    if (fewshot_->value() >= 0) args << "--num-fewshot" << QString::number(fewshot_->value());
    args << t.args;
    log_->appendPlainText("$ lathe " + args.join(' ') + "\n");  // the output goes on the next line
    progress_->setText(tr("Scoring %1…").arg(current_));
    pending_.clear();
    process_ = new QProcess(this);
    connect(process_, &QProcess::readyReadStandardOutput, this, &EvaluatePage::readOutput);
    connect(process_, &QProcess::readyReadStandardError, this, [this] {
        appendProcessOutput(log_, process_->readAllStandardError());
    });
    connect(process_, &QProcess::finished, this, &EvaluatePage::processFinished);
    connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart) processFinished();
    });
    process_->start(latheCliPath(), args);
}

void EvaluatePage::readOutput() {
    pending_ += process_->readAllStandardOutput();
    for (qsizetype nl; (nl = pending_.indexOf('\n')) >= 0;) {
        const QJsonObject e = QJsonDocument::fromJson(pending_.left(nl)).object();
        pending_.remove(0, nl + 1);
        if (e["event"].toString() != "progress") continue;
        const int done = total_targets_ - static_cast<int>(queue_.size()) - 1;
        bar_->setValue(static_cast<int>(1000 * (done + e["fraction"].toDouble()) / std::max(total_targets_, 1)));
        progress_->setText(tr("Scoring %1: %2, %3 of %4 requests, about %5 s left")
                               .arg(current_, e["task"].toString())
                               .arg(e["done"].toInteger())
                               .arg(e["total"].toInteger())
                               .arg(std::lround(e["eta_s"].toDouble())));
    }
}

void EvaluatePage::processFinished() {
    QProcess* p = process_;
    if (!p) return;
    readOutput();
    const bool ok = p->exitStatus() == QProcess::NormalExit && p->exitCode() == 0;
    if (stopping_) {
        error_ = tr("Stopped while scoring %1; the models scored before it are kept.").arg(current_);
    } else if (!ok) {
        // `lathe eval` says why on its last stderr line ("lathe: error: ...").
        QStringList lines = log_->toPlainText().split('\n', Qt::SkipEmptyParts);
        const QString why = lines.isEmpty() ? p->errorString() : lines.last();
        error_ = tr("Scoring %1 failed: %2").arg(current_, why);
        queue_.clear();
    }
    process_ = nullptr;
    p->deleteLater();
    reloadScores();
    startNext();
}

// The scores kept beside the run: the latest of each model, task and metric.
void EvaluatePage::reloadScores() {
    table_->clear();
    table_->setRowCount(0);
    table_->setColumnCount(0);
    shown_scores_ = scoresSignature();
    ++score_reloads_;
    const qint64 id = runId();
    if (id <= 0) return;
    std::vector<lathe::EvalScore> scores;
    try {
        scores = store_.eval_scores(id);
    } catch (const std::exception& e) {
        emit statusMessage(tr("Cannot read the run store: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    // Columns: the base first, checkpoints by step, then the rest in the order first scored.
    QStringList columns, rows;
    QMap<QString, qint64> step;
    for (const auto& s : scores) {
        if (!columns.contains(q(s.model))) columns << q(s.model);
        step[q(s.model)] = s.step;
        if (!rows.contains(rowName(s))) rows << rowName(s);
    }
    std::stable_sort(columns.begin(), columns.end(), [&](const QString& a, const QString& b) {
        auto rank = [&](const QString& c) { return c == "base" ? 0 : step.value(c) >= 0 ? 1 : 2; };
        if (rank(a) != rank(b)) return rank(a) < rank(b);
        return rank(a) == 1 && step.value(a) < step.value(b);
    });
    QMap<QPair<QString, QString>, const lathe::EvalScore*> latest;
    for (const auto& s : scores) latest[{rowName(s), q(s.model)}] = &s;
    table_->setColumnCount(static_cast<int>(columns.size()));
    table_->setRowCount(static_cast<int>(rows.size()));
    table_->setHorizontalHeaderLabels(columns);
    table_->setVerticalHeaderLabels(rows);
    for (int r = 0; r < rows.size(); ++r) {
        int best = -1, ties = 0;
        double bestValue = 0;
        for (int c = 0; c < columns.size(); ++c) {
            const lathe::EvalScore* s = latest.value({rows[r], columns[c]});
            if (!s) continue;
            QString text = QString::number(s->value, 'f', 4);
            if (s->stderr_value) text += QString::fromUtf8(" ± ") + QString::number(*s->stderr_value, 'f', 4);
            auto* item = new QTableWidgetItem(text);
            item->setToolTip(tr("%1 documents per task, %2-shot").arg(s->limit < 0 ? tr("all") : QString::number(s->limit)).arg(s->num_fewshot));
            item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            table_->setItem(r, c, item);
            const bool better = lowerIsBetter(q(s->metric)) ? s->value < bestValue : s->value > bestValue;
            if (best < 0 || better) {
                best = c;
                bestValue = s->value;
                ties = 0;
            } else if (s->value == bestValue) {
                ++ties;
            }
        }
        if (best >= 0 && ties == 0 && columns.size() > 1) {  // a tie has no best
            QFont f = table_->item(r, best)->font();
            f.setBold(true);
            table_->item(r, best)->setFont(f);
        }
    }
}

QStringList EvaluatePage::resultColumns() const {
    QStringList c;
    for (int i = 0; i < table_->columnCount(); ++i) c << table_->horizontalHeaderItem(i)->text();
    return c;
}

QString EvaluatePage::resultCell(const QString& task, const QString& metric, const QString& model) const {
    const QString row = task + " · " + metric;
    for (int r = 0; r < table_->rowCount(); ++r) {
        if (table_->verticalHeaderItem(r)->text() != row) continue;
        for (int c = 0; c < table_->columnCount(); ++c)
            if (table_->horizontalHeaderItem(c)->text() == model) return table_->item(r, c) ? table_->item(r, c)->text() : QString();
    }
    return {};
}
