#include "ui/pages/contamination_view.h"

#include "ui/pages/row_table_view.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include "ui/pages/contamination_table_model.h"

namespace {

QString fileName(const QString& path) { return QFileInfo(path).fileName(); }

// "1 row", "2 rows".
QString count(qint64 n, const QString& one, const QString& many) { return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? one : many); }

QString names(const QStringList& paths) {
    QStringList n;
    for (const QString& p : paths) n << fileName(p);
    return n.join(", ");
}

}  // namespace

ContaminationView::ContaminationView(QWidget* parent) : QWidget(parent), process_(new DecontaminateProcess(this)) {
    // Row 1: what to look for.
    sources_ = new QLineEdit(this);
    sources_->setObjectName("evalSources");
    sources_->setPlaceholderText(tr("eval data files or lm-evaluation-harness task YAMLs, separated by commas"));
    sources_->setToolTip(tr("Each row of an eval data file is one item; a task YAML gives its test split's documents (else its validation split's), "
                            "as doc_to_text renders them. A task's data_files are read relative to the working directory, as lm-evaluation-harness does."));
    connect(sources_, &QLineEdit::textChanged, this, &ContaminationView::updateActions);
    auto* add = new QPushButton(tr("Add…"), this);
    add->setObjectName("addEvalSource");
    add->setToolTip(tr("Add eval sets or task YAMLs"));
    connect(add, &QPushButton::clicked, this, [this] {
        const QStringList current = evalSources();
        const QString start = current.isEmpty() ? QFileInfo(train_file_).path() : QFileInfo(current.last()).path();
        const QStringList files = QFileDialog::getOpenFileNames(
            this, tr("Eval Sets"), start,
            tr("Eval sets and tasks (*.jsonl *.ndjson *.json *.csv *.tsv *.txt *.parquet *.gz *.zst *.yaml *.yml);;Task YAML (*.yaml *.yml);;All files (*)"));
        if (!files.isEmpty()) setEvalSources(current + files);
    });
    auto* sourcesRow = new QHBoxLayout;
    sourcesRow->addWidget(new QLabel(tr("Against:"), this));
    sourcesRow->addWidget(sources_, 1);
    sourcesRow->addWidget(add);

    // Row 2: the check and its progress (the CLI reports rows as it finds them, not how far it is).
    ngram_ = new QSpinBox(this);
    ngram_->setObjectName("ngram");
    ngram_->setRange(1, 100);
    ngram_->setValue(13);
    ngram_->setSuffix(tr(" words"));
    ngram_->setToolTip(tr("n-gram length: a row and an eval item that share a run of this many words (after lm-evaluation-harness's "
                          "normalisation: case, punctuation and whitespace folded) overlap. 13 is the harness's default."));
    connect(ngram_, &QSpinBox::valueChanged, this, &ContaminationView::updateActions);
    check_ = new QPushButton(tr("Check Contamination"), this);
    check_->setObjectName("checkContamination");
    connect(check_, &QPushButton::clicked, this, &ContaminationView::check);
    progress_ = new QProgressBar(this);
    progress_->setObjectName("contaminationProgress");
    progress_->setRange(0, 0);
    progress_->setMaximumWidth(140);
    progress_label_ = new QLabel(this);
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setObjectName("cancelContamination");
    connect(cancel_, &QPushButton::clicked, this, &ContaminationView::cancel);
    auto* checkRow = new QHBoxLayout;
    checkRow->addWidget(new QLabel(tr("N-gram:"), this));
    checkRow->addWidget(ngram_);
    checkRow->addWidget(check_);
    checkRow->addStretch(1);
    checkRow->addWidget(progress_label_);
    checkRow->addWidget(progress_);
    checkRow->addWidget(cancel_);

    status_ = new QLabel(this);
    status_->setObjectName("contaminationStatus");
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    // The result: the table, or a message in its place when there is nothing to list.
    model_ = new ContaminationTableModel(this);
    table_ = makeRowTableView(model_, "contaminationTable", this);
    // The short columns fit their contents (at most kMaxRows rows); the item and the overlap share the rest.
    QHeaderView* header = table_->horizontalHeader();
    header->setSectionResizeMode(QHeaderView::ResizeToContents);
    header->setSectionResizeMode(ContaminationTableModel::EvalItemColumn, QHeaderView::Stretch);
    header->setSectionResizeMode(ContaminationTableModel::OverlapColumn, QHeaderView::Stretch);
    connect(table_, &QTableView::activated, this, [this](const QModelIndex& index) {
        const ContaminatedRow& row = model_->rows().at(index.row());
        emit rowActivated(row.file, row.line);
    });
    connect(table_, &QTableView::clicked, table_, &QTableView::activated);
    empty_ = new QLabel(this);
    empty_->setObjectName("contaminationEmpty");
    empty_->setAlignment(Qt::AlignCenter);
    empty_->setWordWrap(true);
    empty_->setMargin(12);

    write_clean_ = new QPushButton(tr("Write Clean Data…"), this);
    write_clean_->setObjectName("writeCleanData");
    write_clean_->setToolTip(tr("Write the rows without eval items to a JSON Lines file (lathe data decontaminate --write-clean)"));
    connect(write_clean_, &QPushButton::clicked, this, &ContaminationView::chooseCleanFile);
    clean_info_ = new QLabel(this);
    clean_info_->setObjectName("cleanInfo");
    clean_info_->setWordWrap(true);
    clean_info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* cleanRow = new QHBoxLayout;
    cleanRow->addWidget(write_clean_);
    cleanRow->addWidget(clean_info_, 1);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(sourcesRow);
    layout->addLayout(checkRow);
    layout->addWidget(status_);
    layout->addWidget(empty_, 1);
    layout->addWidget(table_, 1);
    layout->addLayout(cleanRow);

    tick_ = new QTimer(this);
    tick_->setInterval(1000);
    connect(tick_, &QTimer::timeout, this, [this] { progress_label_->setText(tr("%1 s").arg(clock_.elapsed() / 1000)); });

    connect(process_, &DecontaminateProcess::rowsFound, this, [this](const QList<ContaminatedRow>& rows) {
        found_so_far_ += rows.size();
        model_->append(rows);
        if (table_->isHidden() && model_->rowCount() > 0) {
            empty_->hide();
            table_->show();
        }
        status_->setText(tr("Checking %1… %2 contaminated rows so far.").arg(fileName(train_file_)).arg(found_so_far_));
    });
    connect(process_, &DecontaminateProcess::finished, this, &ContaminationView::onFinished);
    connect(process_, &DecontaminateProcess::failed, this, &ContaminationView::onFailed);
    connect(process_, &DecontaminateProcess::cancelled, this, [this] {
        model_->clear();
        status_->setText(running_.write_clean.isEmpty() ? tr("Check cancelled.") : tr("Writing the clean data cancelled; nothing was written."));
        showEmptyState(tr("Nothing to show: the check was cancelled."));
        updateActions();
    });

    setTrainingFile(QString());
}

void ContaminationView::setTrainingFile(const QString& path) {
    cancel();
    train_file_ = path;
    result_.reset();
    model_->clear();
    status_->clear();
    status_->setStyleSheet(QString());
    clean_info_->clear();
    showEmptyState(path.isEmpty() ? tr("Open a dataset, then give the eval sets or lm-evaluation-harness tasks to look for in it.")
                                  : tr("Give eval sets or task YAMLs above and press Check Contamination to find the rows of %1 that contain their items.")
                                        .arg(fileName(path)));
    updateActions();
}

void ContaminationView::setEvalSources(const QStringList& paths) { sources_->setText(paths.join(", ")); }

QStringList ContaminationView::evalSources() const {
    QStringList out;
    for (const QString& s : sources_->text().split(',', Qt::SkipEmptyParts))
        if (!s.trimmed().isEmpty()) out << s.trimmed();
    return out;
}

void ContaminationView::setNgram(int n) { ngram_->setValue(n); }

void ContaminationView::check() {
    start(DecontaminateRequest{.train_files = {train_file_}, .eval_sources = evalSources(), .ngram = ngram_->value(), .write_clean = {}});
}

void ContaminationView::writeClean(const QString& out) {
    QString path = out;
    if (!path.endsWith(".jsonl")) path += ".jsonl";  // the CLI writes JSON Lines and wants the name to say so
    start(DecontaminateRequest{.train_files = {train_file_}, .eval_sources = evalSources(), .ngram = ngram_->value(), .write_clean = path});
}

void ContaminationView::chooseCleanFile() {
    const QFileInfo train(train_file_);
    const QString suggested = train.dir().filePath(train.fileName().section('.', 0, 0) + ".clean.jsonl");
    const QString out = QFileDialog::getSaveFileName(this, tr("Write Clean Data"), suggested, tr("JSON Lines (*.jsonl)"));
    if (!out.isEmpty()) writeClean(out);
}

void ContaminationView::start(const DecontaminateRequest& request) {
    if (request.train_files.isEmpty() || request.train_files.first().isEmpty() || request.eval_sources.isEmpty()) return;
    process_->cancel();
    running_ = request;
    result_.reset();  // what is shown from now on is this run's
    found_so_far_ = 0;
    model_->clear();
    status_->setStyleSheet(QString());
    status_->setText(request.write_clean.isEmpty() ? tr("Checking %1 against %2…").arg(fileName(train_file_), names(request.eval_sources))
                                                   : tr("Writing the rows of %1 without eval items to %2…").arg(fileName(train_file_), request.write_clean));
    showEmptyState(tr("No contaminated rows yet."));
    if (request.write_clean.isEmpty()) clean_info_->clear();
    clock_.start();
    tick_->start();
    progress_label_->setText(tr("0 s"));
    process_->start(request);
    updateActions();
}

void ContaminationView::cancel() { process_->cancel(); }

void ContaminationView::onFinished(const DecontaminationResult& r) {
    tick_->stop();
    result_ = r;
    finished_ = running_;
    const QString train = fileName(train_file_);
    QString eval = tr("%1 from %2, %3-word n-grams").arg(count(r.eval_items, tr("eval item"), tr("eval items")), names(finished_.eval_sources)).arg(r.ngram);
    if (r.eval_items_too_short > 0) eval += tr("; %1 of the items have fewer words and cannot be found (try a smaller n-gram)").arg(r.eval_items_too_short);
    if (r.contaminated_rows == 0) {
        status_->setText(tr("%1 · read in %2 s.").arg(eval).arg(r.seconds, 0, 'f', 2));
        showEmptyState(tr("No overlap found in %1 of %2.").arg(count(r.rows, tr("row"), tr("rows")), train));
    } else {
        QString text = tr("<b>%1</b> of %2 of %3 contain eval items (%4 of the %5 found) · %6 · read in %7 s.")
                           .arg(r.contaminated_rows)
                           .arg(count(r.rows, tr("row"), tr("rows")))
                           .arg(train.toHtmlEscaped())
                           .arg(r.eval_items_found)
                           .arg(count(r.eval_items, tr("item"), tr("items")))
                           .arg(eval.toHtmlEscaped())
                           .arg(r.seconds, 0, 'f', 2);
        if (r.contaminated_rows > model_->rowCount()) text += tr(" The first %1 are listed.").arg(model_->rowCount());
        status_->setText(text);
        empty_->hide();
        table_->show();
    }
    if (!r.clean_file.isEmpty())
        clean_info_->setText(tr("Wrote %1 clean rows to %2 (%3 contaminated rows left out).").arg(r.clean_rows).arg(r.clean_file).arg(r.contaminated_rows));
    updateActions();
}

void ContaminationView::onFailed(const QString& why) {
    tick_->stop();
    result_.reset();
    model_->clear();
    const QString what = running_.write_clean.isEmpty() ? tr("Checking %1 for contamination failed").arg(fileName(train_file_))
                                                        : tr("Writing the clean data of %1 failed").arg(fileName(train_file_));
    status_->setStyleSheet("QLabel { color: #b3261e; }");
    status_->setText(tr("%1: %2").arg(what, why));
    showEmptyState(tr("Nothing to show: see the error above."));
    updateActions();
}

bool ContaminationView::canWriteClean() const {
    return !isRunning() && result_ && result_->contaminated_rows > 0 && finished_.train_files == QStringList{train_file_} &&
           finished_.eval_sources == evalSources() && finished_.ngram == ngram_->value();
}

void ContaminationView::updateActions() {
    const bool running = isRunning();
    check_->setEnabled(!running && !train_file_.isEmpty() && !evalSources().isEmpty());
    check_->setToolTip(train_file_.isEmpty()        ? tr("Open a dataset first")
                       : evalSources().isEmpty()    ? tr("Give eval sets or task YAMLs to look for")
                                                    : tr("Find the rows of %1 that contain eval items (lathe data decontaminate)").arg(fileName(train_file_)));
    write_clean_->setEnabled(canWriteClean());
    progress_->setVisible(running);
    progress_label_->setVisible(running);
    cancel_->setVisible(running);
    if (!running) tick_->stop();
}

void ContaminationView::showEmptyState(const QString& text) {
    empty_->setText(text);
    empty_->show();
    table_->hide();
}

QString ContaminationView::statusText() const { return status_->text(); }
QString ContaminationView::cleanText() const { return clean_info_->text(); }
