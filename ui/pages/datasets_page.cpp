#include "ui/pages/datasets_page.h"

#include "ui/pages/row_table_view.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QListWidget>
#include <QMimeData>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/data/dataset_file.h"
#include "core/data/preference.h"
#include "core/data/render.h"
#include "core/data/samples.h"
#include "core/text/text_tokenizer.h"
#include "ui/lathe_cli.h"
#include "ui/pages/contamination_view.h"
#include "ui/pages/dataset_table_model.h"

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

// A problem or duplicate list entry remembers the line it jumps to.
constexpr int kLineRole = Qt::UserRole + 1;

QString place(const QJsonObject& o) { return QStringLiteral("%1:%2").arg(QFileInfo(o["file"].toString()).fileName()).arg(o["line"].toInteger()); }

}  // namespace

DatasetsPage::DatasetsPage(QWidget* parent) : QWidget(parent) {
    setAcceptDrops(true);

    // Top: the file, the model that renders rows, and the inspection's progress.
    auto* open = new QPushButton(tr("Open Dataset…"), this);
    open->setObjectName("openDataset");
    open->setToolTip(tr("JSONL, JSON, CSV/TSV, text (also .gz/.zst), or drop a file here (File ▸ Open Dataset, Ctrl+Shift+O)"));
    connect(open, &QPushButton::clicked, this, &DatasetsPage::chooseFile);
    file_label_ = new QLabel(tr("No dataset open: open a file or drop one here."), this);
    file_label_->setObjectName("datasetFile");
    file_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    file_label_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // a long path must not widen the window
    model_picker_ = new QComboBox(this);
    model_picker_->setObjectName("modelPicker");
    model_picker_->setEditable(true);
    model_picker_->setMinimumContentsLength(16);
    model_picker_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    model_picker_->setToolTip(tr("The model whose tokenizer and chat template render the rows"));
    connect(model_picker_, &QComboBox::textActivated, this, &DatasetsPage::setModel);
    train_ = new QPushButton(tr("Train on This"), this);
    train_->setObjectName("trainOnDataset");
    train_->setToolTip(tr("Make this file the Train page's dataset"));
    train_->setEnabled(false);
    connect(train_, &QPushButton::clicked, this, [this] { emit trainRequested(path_); });
    auto* top = new QHBoxLayout;
    top->addWidget(open);
    top->addWidget(file_label_, 1);
    top->addWidget(new QLabel(tr("Model:"), this));
    top->addWidget(model_picker_);
    top->addWidget(train_);

    progress_label_ = new QLabel(this);
    progress_ = new QProgressBar(this);
    progress_->setObjectName("inspectProgress");
    progress_->setRange(0, 0);  // neither indexing nor the inspection can say how far they are
    progress_->setMaximumWidth(220);
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setObjectName("cancelInspect");
    connect(cancel_, &QPushButton::clicked, this, &DatasetsPage::cancelInspection);
    summary_ = new QLabel(this);
    summary_->setObjectName("datasetSummary");
    summary_->setWordWrap(true);
    auto* status = new QHBoxLayout;
    status->addWidget(summary_, 1);
    status->addWidget(progress_label_);
    status->addWidget(progress_);
    status->addWidget(cancel_);
    inspect_tick_ = new QTimer(this);
    inspect_tick_->setInterval(1000);
    connect(inspect_tick_, &QTimer::timeout, this, [this] {
        if (isInspecting()) progress_label_->setText(tr("Inspecting… %1 s").arg(inspect_clock_.elapsed() / 1000));
    });
    setBusy(QString());

    // Left: the rows.
    table_model_ = new DatasetTableModel(this);
    // No content-sized columns either: the view never asks every row for its size.
    table_ = makeRowTableView(table_model_, "rowsTable", this);
    table_->horizontalHeader()->setDefaultSectionSize(180);
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->horizontalHeader()->setMinimumSectionSize(40);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &DatasetsPage::renderSelected);
    table_message_ = new QLabel(this);
    table_message_->setWordWrap(true);
    table_message_->hide();
    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(table_message_);
    leftLayout->addWidget(table_, 1);

    // Right: the selected row rendered; below it the histogram, duplicates and problems.
    rendered_ = new QTextBrowser(this);
    rendered_->setObjectName("renderedRow");
    rendered_->setPlaceholderText(tr("Select a row to see it as the model is trained on it."));
    render_info_ = new QLabel(this);
    render_info_->setObjectName("renderInfo");
    render_info_->setWordWrap(true);
    auto* renderBox = new QWidget(this);
    auto* renderLayout = new QVBoxLayout(renderBox);
    renderLayout->setContentsMargins(0, 0, 0, 0);
    renderLayout->addWidget(render_info_);
    renderLayout->addWidget(rendered_, 1);

    histogram_ = new QCustomPlot(this);
    histogram_->setObjectName("lengthHistogram");
    {
        const QPalette pal = palette();
        const QColor fg = pal.color(QPalette::WindowText);
        histogram_->setBackground(pal.color(QPalette::Base));
        for (QCPAxis* axis : {histogram_->xAxis, histogram_->yAxis}) {
            axis->setBasePen(QPen(fg));
            axis->setTickPen(QPen(fg));
            axis->setSubTickPen(QPen(fg));
            axis->setTickLabelColor(fg);
            axis->setLabelColor(fg);
            axis->grid()->setPen(QPen(pal.color(QPalette::Mid), 0, Qt::DotLine));
        }
        histogram_->xAxis->setLabel(tr("tokens per row"));
        histogram_->yAxis->setLabel(tr("rows"));
        histogram_->setMinimumHeight(150);
        // Row counts are whole numbers: no 0.5 ticks.
        auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
        ticker->setTickStep(1);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        histogram_->yAxis->setTicker(ticker);
    }
    histogram_message_ = new QLabel(this);
    histogram_message_->setWordWrap(true);
    auto* histBox = new QWidget(this);
    auto* histLayout = new QVBoxLayout(histBox);
    histLayout->setContentsMargins(4, 4, 4, 4);
    histLayout->addWidget(histogram_message_);
    histLayout->addWidget(histogram_, 1);
    duplicates_ = new QListWidget(this);
    duplicates_->setObjectName("duplicates");
    problems_ = new QListWidget(this);
    problems_->setObjectName("problems");
    for (QListWidget* list : {duplicates_, problems_})
        connect(list, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
            selectRow(rowForLine(item->data(kLineRole).toLongLong()));
        });
    connect(duplicates_, &QListWidget::itemClicked, duplicates_, &QListWidget::itemActivated);
    connect(problems_, &QListWidget::itemClicked, problems_, &QListWidget::itemActivated);
    auto* tabs = new QTabWidget(this);
    tabs->setObjectName("datasetTabs");
    tabs->addTab(histBox, tr("Token Lengths"));
    tabs->addTab(duplicates_, tr("Duplicates"));
    tabs->addTab(problems_, tr("Problems"));
    contamination_ = new ContaminationView(this);
    contamination_->setObjectName("contamination");
    connect(contamination_, &ContaminationView::rowActivated, this, [this](const QString& file, qint64 line) {
        if (QFileInfo(file) == QFileInfo(path_)) selectRow(rowForLine(line));
    });
    tabs->addTab(contamination_, tr("Contamination"));

    auto* right = new QSplitter(Qt::Vertical, this);
    right->addWidget(renderBox);
    right->addWidget(tabs);
    right->setStretchFactor(0, 1);
    right->setStretchFactor(1, 1);
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(right);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addLayout(status);
    layout->addWidget(split, 1);

    connect(&index_watcher_, &QFutureWatcher<Indexed>::finished, this, [this] {
        Indexed r = index_watcher_.result();
        table_model_->setFile(r.file);
        table_message_->setVisible(!r.error.isEmpty());
        table_message_->setText(tr("The rows are not listed: %1. The inspection below still reads the whole file.").arg(r.error));
        table_->setColumnWidth(0, table_->fontMetrics().horizontalAdvance(QString::number(r.file && r.file->size() ? r.file->line(r.file->size() - 1) : 1) + "00000"));
        if (r.file && r.file->size() > 0) selectRow(0);
        setBusy(isInspecting() ? tr("Inspecting…") : QString());
    });
    connect(&tokenizer_watcher_, &QFutureWatcher<LoadedTokenizer>::finished, this, [this] {
        LoadedTokenizer r = tokenizer_watcher_.result();
        tokenizer_ = r.tokenizer;
        if (!r.error.isEmpty()) emit statusMessage(tr("%1: %2").arg(model_dir_, r.error));
        renderSelected();
        if (!path_.isEmpty()) startInspection();  // token lengths with the new tokenizer
    });
    showReport();
}

DatasetsPage::~DatasetsPage() {
    cancelInspection();
    index_watcher_.waitForFinished();
    tokenizer_watcher_.waitForFinished();
}

bool DatasetsPage::openFile(const QString& path) {
    QFileInfo info(path);
    if (!info.exists()) {
        summary_->setText(tr("%1 does not exist.").arg(path));
        return false;
    }
    cancelInspection();
    // A previous file's indexing may still run: the watcher moves to the new one and its result is dropped.
    path_ = info.absoluteFilePath();
    file_label_->setText(path_);
    file_label_->setToolTip(path_);
    train_->setEnabled(true);
    contamination_->setTrainingFile(path_);
    report_ = {};
    spans_.clear();
    rendered_->clear();
    render_info_->clear();
    table_model_->setFile(nullptr);
    showReport();
    QSettings().setValue("datasets/last", path_);

    const std::string file = path_.toStdString();
    index_watcher_.setFuture(QtConcurrent::run([file] {
        Indexed r;
        try {
            r.file = std::make_shared<lathe::data::DatasetFile>(lathe::data::DatasetFile::open(file));
        } catch (const std::exception& e) {
            r.error = QString::fromStdString(e.what());
        }
        return r;
    }));
    setBusy(tr("Reading rows…"));
    startInspection();
    return true;
}

void DatasetsPage::chooseFile() {
    QString start = path_.isEmpty() ? QSettings().value("datasets/last").toString() : path_;
    QString path = QFileDialog::getOpenFileName(this, tr("Open Dataset"), QFileInfo(start).path(),
                                                tr("Datasets (*.jsonl *.ndjson *.json *.csv *.tsv *.tab *.txt *.md *.parquet *.gz *.zst);;All files (*)"));
    if (!path.isEmpty()) openFile(path);
}

void DatasetsPage::setRecentModels(const QStringList& dirs) {
    const QString current = model_picker_->currentText();
    QSignalBlocker block(model_picker_);
    model_picker_->clear();
    model_picker_->addItems(dirs);
    model_picker_->setCurrentText(current);
}

void DatasetsPage::setModel(const QString& dir) {
    if (dir == model_dir_ && (tokenizer_ || tokenizer_watcher_.isRunning())) return;
    model_dir_ = dir;
    {
        QSignalBlocker block(model_picker_);
        model_picker_->setCurrentText(dir);
    }
    tokenizer_.reset();  // a tokenizer still loading for another model is dropped the same way
    const std::string d = dir.toStdString();
    tokenizer_watcher_.setFuture(QtConcurrent::run([d] {
        LoadedTokenizer r;
        try {
            if (!d.empty() && lathe::TextTokenizer::exists_in(d)) r.tokenizer = std::make_shared<lathe::TextTokenizer>(lathe::TextTokenizer::load(d));
        } catch (const std::exception& e) {
            r.error = QString::fromStdString(e.what());
        }
        return r;
    }));
}

bool DatasetsPage::isInspecting() const { return inspect_ && inspect_->state() != QProcess::NotRunning; }
bool DatasetsPage::isIndexing() const { return index_watcher_.isRunning(); }

void DatasetsPage::setBusy(const QString& what) {
    const bool busy = !what.isEmpty();
    progress_label_->setText(what);
    progress_label_->setVisible(busy);
    progress_->setVisible(busy);
    cancel_->setVisible(isInspecting());
    if (!isInspecting()) inspect_tick_->stop();
}

void DatasetsPage::startInspection() {
    cancelInspection();
    const QString cli = latheCliPath();
    if (cli.isEmpty()) {
        summary_->setText(tr("The `lathe` program was not found next to Lathe Studio or on PATH, so the file cannot be inspected."));
        return;
    }
    QStringList args{"data", "inspect", "--json", "--examples", "0"};
    // Token lengths need a tokenizer; a model folder without one (pretokenized data) is not passed.
    if (!model_dir_.isEmpty() && lathe::TextTokenizer::exists_in(model_dir_.toStdString())) args << "--model" << model_dir_;
    args << path_;
    inspect_ = new QProcess(this);
    inspect_out_.clear();
    inspect_err_.clear();
    connect(inspect_, &QProcess::readyReadStandardOutput, this, [this, p = inspect_] { inspect_out_ += p->readAllStandardOutput(); });
    connect(inspect_, &QProcess::readyReadStandardError, this, [this, p = inspect_] { inspect_err_ += p->readAllStandardError(); });
    connect(inspect_, &QProcess::finished, this, &DatasetsPage::inspectionFinished);
    connect(inspect_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart) inspectionFinished();
    });
    inspect_->start(cli, args);
    setBusy(tr("Inspecting…"));
    inspect_clock_.start();
    inspect_tick_->start();
    summary_->setText(tr("Reading %1…").arg(QFileInfo(path_).fileName()));
}

void DatasetsPage::cancelInspection() {
    if (!inspect_) return;
    QProcess* p = inspect_;
    inspect_ = nullptr;
    p->disconnect(this);
    if (p->state() != QProcess::NotRunning) {
        p->kill();
        p->waitForFinished(5000);
        summary_->setText(tr("Inspection cancelled."));
    }
    p->deleteLater();
    setBusy(isIndexing() ? tr("Reading rows…") : QString());
}

void DatasetsPage::inspectionFinished() {
    QProcess* p = inspect_;
    if (!p) return;
    inspect_out_ += p->readAllStandardOutput();
    inspect_err_ += p->readAllStandardError();
    inspect_ = nullptr;
    p->deleteLater();
    setBusy(isIndexing() ? tr("Reading rows…") : QString());
    QJsonParseError err;
    QJsonDocument doc = QJsonDocument::fromJson(inspect_out_, &err);
    if (p->exitStatus() != QProcess::NormalExit || p->exitCode() != 0 || !doc.isObject()) {
        QString why = QString::fromUtf8(inspect_err_).trimmed();
        if (why.isEmpty()) why = p->errorString();
        summary_->setText(tr("Could not inspect %1: %2").arg(QFileInfo(path_).fileName(), why));
        return;
    }
    report_ = doc.object();
    showReport();
    renderSelected();  // now the row type is known
}

void DatasetsPage::showReport() {
    duplicates_->clear();
    problems_->clear();
    histogram_->clearPlottables();
    if (report_.isEmpty()) {
        histogram_message_->setText(path_.isEmpty() ? tr("Token lengths appear here once a dataset is open.") : tr("Counting tokens…"));
        histogram_->replot();
        if (!path_.isEmpty() && isInspecting()) summary_->setText(tr("Reading %1…").arg(QFileInfo(path_).fileName()));
        return;
    }
    const QJsonObject& report = report_;  // const: operator[] on a mutable object would add keys
    const QString type = report["type"].isNull() ? tr("unknown type") : report["type"].toString();
    const qint64 rows = report["rows"].toInteger(), usable = report["usable_rows"].toInteger();
    const QJsonObject exact = report["exact_duplicates"].toObject(), near = report["near_duplicates"].toObject();
    const QJsonObject problems = report["problems"].toObject();
    QString summary = tr("<b>%1</b> rows (%2%3) · %4 usable · %5 exact and %6 near duplicates · %7 problems")
                          .arg(rows)
                          .arg(type, report["type_detected"].toBool() ? tr(", detected") : QString())
                          .arg(usable)
                          .arg(exact["count"].toInteger())
                          .arg(near["count"].toInteger())
                          .arg(problems["count"].toInteger());
    const QJsonObject tokens = report["tokens"].toObject();
    if (!tokens.isEmpty())
        summary += tr(" · %1 tokens, %2 trained · %3 rows over %4 tokens")
                       .arg(tokens["total"].toInteger())
                       .arg(tokens["trained"].toInteger())
                       .arg(tokens["over_max_length"].toInteger())
                       .arg(tokens["max_length"].toInteger());
    summary_->setText(summary);

    for (const QJsonValue& v : exact["examples"].toArray()) {
        const QJsonObject o = v.toObject();
        auto* item = new QListWidgetItem(tr("%1 repeats %2 exactly").arg(place(o), place(o["duplicate_of"].toObject())), duplicates_);
        item->setData(kLineRole, o["line"].toInteger());
    }
    for (const QJsonValue& v : near["examples"].toArray()) {
        const QJsonObject o = v.toObject();
        auto* item = new QListWidgetItem(tr("%1 is like %2 (similarity %3)").arg(place(o), place(o["duplicate_of"].toObject())).arg(o["similarity"].toDouble(), 0, 'f', 2), duplicates_);
        item->setData(kLineRole, o["line"].toInteger());
    }
    if (duplicates_->count() == 0) duplicates_->addItem(tr("No duplicates."));
    for (const QJsonValue& v : problems["listed"].toArray()) {
        const QJsonObject o = v.toObject();
        const QString field = o["field"].toString();
        auto* item = new QListWidgetItem(tr("%1: %2%3").arg(place(o), field.isEmpty() ? QString() : field + ": ", o["message"].toString()), problems_);
        item->setData(kLineRole, o["line"].toInteger());
        item->setToolTip(item->text());
    }
    if (problems_->count() == 0) problems_->addItem(tr("Every row can be used."));
    else if (problems["count"].toInteger() > problems_->count())
        problems_->addItem(tr("… and %1 more").arg(problems["count"].toInteger() - problems_->count()));

    const QJsonArray bins = tokens["lengths"].toObject()["histogram"].toArray();
    if (bins.isEmpty()) {
        histogram_message_->setText(tokens.isEmpty() ? tr("Choose a model with a tokenizer above to count tokens.") : tr("No usable rows to count."));
        histogram_->replot();
        return;
    }
    const QJsonObject lengths = tokens["lengths"].toObject();
    histogram_message_->setText(tr("Tokens per row: min %1, median %2, p90 %3, p99 %4, max %5")
                                    .arg(lengths["min"].toInteger())
                                    .arg(lengths["p50"].toInteger())
                                    .arg(lengths["p90"].toInteger())
                                    .arg(lengths["p99"].toInteger())
                                    .arg(lengths["max"].toInteger()));
    auto* bars = new QCPBars(histogram_->xAxis, histogram_->yAxis);
    bars->setPen(QPen(QColor(31, 119, 180)));
    bars->setBrush(QColor(31, 119, 180, 160));
    double width = 1, top = 0;
    for (const QJsonValue& v : bins) {
        const QJsonObject b = v.toObject();
        const double from = b["from"].toDouble(), to = b["to"].toDouble(), count = b["count"].toDouble();
        width = to - from;
        bars->addData((from + to) / 2, count);
        top = std::max(top, count);
    }
    bars->setWidth(width);
    histogram_->xAxis->setRange(bins.first().toObject()["from"].toDouble(), bins.last().toObject()["to"].toDouble());
    histogram_->yAxis->setRange(0, top * 1.1 + 1);
    histogram_->replot();
}

int DatasetsPage::histogramBars() const {
    if (histogram_->plottableCount() == 0) return 0;
    auto* bars = qobject_cast<QCPBars*>(histogram_->plottable(0));
    return bars ? bars->data()->size() : 0;
}

QString DatasetsPage::statusText() const { return summary_->text(); }
QString DatasetsPage::renderMessage() const { return render_info_->text(); }

void DatasetsPage::selectRow(int row) {
    if (row < 0 || row >= table_model_->rowCount()) return;
    const QModelIndex index = table_model_->index(row, 0);
    table_->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    table_->scrollTo(index, QAbstractItemView::PositionAtCenter);
}

int DatasetsPage::rowForLine(qint64 line) const { return table_model_->rowForLine(line); }

void DatasetsPage::renderSelected() {
    spans_.clear();
    rejected_spans_.clear();
    rendered_->clear();
    auto file = table_model_->file();
    const QModelIndex current = table_->currentIndex();
    if (!file || !current.isValid()) {
        render_info_->clear();
        return;
    }
    auto row = file->row(static_cast<size_t>(current.row()));
    if (auto* problem = std::get_if<lathe::data::Problem>(&row)) {
        render_info_->setText(tr("Line %1 cannot be used: %2").arg(problem->line).arg(q(problem->to_string())));
        return;
    }
    const lathe::data::RawRow& raw = std::get<lathe::data::RawRow>(row);
    // The type the inspection settled on for the whole file, else what this row's fields say.
    std::optional<lathe::data::RowType> type;
    if (report_.value("type").isString()) type = lathe::data::parse_row_type(report_.value("type").toString().toStdString());
    if (!type) type = lathe::data::detect_row_type(raw.value);
    const QString json = q(raw.value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    if (report_.value("type").toString() == "preference" || lathe::data::is_preference_row(raw.value)) return renderPair(raw, json);
    if (!type) {
        render_info_->setText(tr("Line %1: no known row type in its fields (docs/data.md lists them).").arg(raw.line));
        rendered_->setPlainText(json);
        return;
    }
    auto sample = lathe::data::to_sample(raw, *type);
    if (auto* problem = std::get_if<lathe::data::Problem>(&sample)) {
        render_info_->setText(tr("Line %1 cannot be used: %2").arg(raw.line).arg(q(problem->to_string())));
        rendered_->setPlainText(json);
        return;
    }
    const auto& s = std::get<lathe::data::Sample>(sample);
    if (!tokenizer_ && s.type != lathe::data::RowType::pretokenized) {
        render_info_->setText(model_dir_.isEmpty() || tokenizer_watcher_.isRunning()
                                  ? tr("Line %1 as written. Choose a model (above) to see it through its chat template, with the tokens that are not trained shaded.").arg(raw.line)
                                  : tr("Line %1 as written: %2 has no tokenizer to render it with.").arg(raw.line).arg(QFileInfo(model_dir_).fileName()));
        rendered_->setPlainText(json);
        return;
    }
    auto rendered = lathe::data::render_sample(s, tokenizer_.get(), lathe::data::RenderOptions{});
    if (auto* problem = std::get_if<lathe::data::Problem>(&rendered)) {
        render_info_->setText(tr("Line %1 cannot be rendered: %2").arg(raw.line).arg(q(problem->to_string())));
        rendered_->setPlainText(json);
        return;
    }
    const auto& r = std::get<lathe::data::RenderedRow>(rendered);
    // Split the text (or, for token ids without text, the tokens) into runs that are trained or not.
    std::string run;
    bool run_trained = false;
    int64_t trained = 0;
    auto flush = [&] {
        if (!run.empty()) spans_.append({QString::fromUtf8(run.data(), static_cast<qsizetype>(run.size())), run_trained});
        run.clear();
    };
    size_t pos = 0;
    for (size_t k = 0; k < r.input_ids.size(); ++k) {
        const bool t = r.labels[k] != -100;
        trained += t;
        std::string piece;
        if (!r.text.empty() && k < r.offsets.size()) {
            const size_t end = std::max(pos, std::min(r.offsets[k].second, r.text.size()));
            piece = r.text.substr(pos, end - pos);
            pos = end;
            if (k + 1 == r.input_ids.size()) piece += r.text.substr(pos);
        } else if (tokenizer_) {
            piece = tokenizer_->decode({r.input_ids[k]}, false);
        } else {
            piece = std::to_string(r.input_ids[k]) + " ";
        }
        if (t != run_trained) flush();
        run_trained = t;
        run += piece;
    }
    flush();

    rendered_->setHtml(shadedHtml(spans_));
    render_info_->setText(tr("Line %1 (%2): %3 tokens, %4 trained. Shaded text is not trained (label −100).")
                              .arg(raw.line)
                              .arg(lathe::data::row_type_name(s.type))
                              .arg(r.input_ids.size())
                              .arg(trained));
}

QString DatasetsPage::shadedHtml(const QList<QPair<QString, bool>>& spans) const {
    const QColor masked = palette().color(QPalette::Window).lightness() > 128 ? QColor(215, 215, 215) : QColor(70, 70, 70);
    const QColor maskedText = palette().color(QPalette::PlaceholderText);
    QString html = "<pre style=\"white-space: pre-wrap\">";
    for (const auto& [text, t] : spans) {
        const QString escaped = text.toHtmlEscaped();
        if (t) html += escaped;
        else html += QStringLiteral("<span style=\"background-color:%1; color:%2\">%3</span>").arg(masked.name(), maskedText.name(), escaped);
    }
    return html + "</pre>";
}

// A preference pair as TRL's DPOTrainer tokenizes it (the prompt through the chat template with the generation
// prompt, each completion after it), chosen and rejected side by side, the prompt shaded: only the completions
// are trained.
void DatasetsPage::renderPair(const lathe::data::RawRow& raw, const QString& json) {
    auto row = lathe::data::to_preference_row(raw);
    if (auto* problem = std::get_if<lathe::data::Problem>(&row)) {
        render_info_->setText(tr("Line %1 cannot be used: %2").arg(raw.line).arg(q(problem->to_string())));
        rendered_->setPlainText(json);
        return;
    }
    if (!tokenizer_) {
        render_info_->setText(model_dir_.isEmpty() || tokenizer_watcher_.isRunning()
                                  ? tr("Line %1 as written. Choose a model (above) to see the pair as it is trained, chosen and rejected side by side.").arg(raw.line)
                                  : tr("Line %1 as written: %2 has no tokenizer to render it with.").arg(raw.line).arg(QFileInfo(model_dir_).fileName()));
        rendered_->setPlainText(json);
        return;
    }
    auto pair = lathe::data::tokenize_preference_row(std::get<lathe::data::PreferenceRow>(row), *tokenizer_, {});
    if (auto* problem = std::get_if<lathe::data::Problem>(&pair)) {
        render_info_->setText(tr("Line %1 cannot be used: %2").arg(raw.line).arg(q(problem->to_string())));
        rendered_->setPlainText(json);
        return;
    }
    const auto& p = std::get<lathe::data::PreferencePair>(pair);
    auto spansOf = [&](const lathe::data::PreferenceSequence& s) {
        const std::vector<int64_t> prompt(s.ids.begin(), s.ids.begin() + s.prompt_tokens), completion(s.ids.begin() + s.prompt_tokens, s.ids.end());
        QList<QPair<QString, bool>> spans;
        if (!prompt.empty()) spans.append({q(tokenizer_->decode(prompt, false)), false});
        if (!completion.empty()) spans.append({q(tokenizer_->decode(completion, false)), true});
        return spans;
    };
    spans_ = spansOf(p.chosen);
    rejected_spans_ = spansOf(p.rejected);
    rendered_->setHtml(QStringLiteral("<table width=\"100%\" cellspacing=\"4\"><tr><th align=\"left\">%1</th><th align=\"left\">%2</th></tr>"
                                      "<tr><td width=\"50%\" valign=\"top\">%3</td><td width=\"50%\" valign=\"top\">%4</td></tr></table>")
                           .arg(tr("Chosen"), tr("Rejected"), shadedHtml(spans_), shadedHtml(rejected_spans_)));
    render_info_->setText(tr("Line %1 (preference pair): chosen %2 tokens, %3 trained; rejected %4 tokens, %5 trained. Shaded text (the prompt) "
                             "is not trained.")
                              .arg(raw.line)
                              .arg(p.chosen.ids.size())
                              .arg(p.chosen.completion_tokens())
                              .arg(p.rejected.ids.size())
                              .arg(p.rejected.completion_tokens()));
}

void DatasetsPage::dragEnterEvent(QDragEnterEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.size() == 1 && urls.first().isLocalFile() && QFileInfo(urls.first().toLocalFile()).isFile()) event->acceptProposedAction();
}

void DatasetsPage::dropEvent(QDropEvent* event) {
    openFile(event->mimeData()->urls().first().toLocalFile());
    event->acceptProposedAction();
}
