#include "ui/pages/runs_page.h"

#include <QDateTime>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include "core/util/error.h"
#include "ui/pages/runs_table_model.h"
#include "ui/studio_run_store.h"

namespace {
QString q(const std::string& s) { return QString::fromStdString(s); }
}  // namespace

RunsPage::RunsPage(StudioRunStore& store, QWidget* parent) : QWidget(parent), store_(store) {
    store_label_ = new QLabel(this);
    store_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* change = new QPushButton(tr("Change…"), this);
    change->setToolTip(tr("Use another run store database (lathe train --store)"));
    connect(change, &QPushButton::clicked, this, &RunsPage::chooseStorePath);
    auto* refresh = new QPushButton(tr("Refresh"), this);
    refresh->setShortcut(QKeySequence::Refresh);
    connect(refresh, &QPushButton::clicked, this, &RunsPage::reload);
    auto* top = new QHBoxLayout;
    top->addWidget(store_label_, 1);
    top->addWidget(change);
    top->addWidget(refresh);
    message_ = new QLabel(this);
    message_->setWordWrap(true);
    message_->hide();

    model_ = new RunsTableModel(this);
    table_ = new QTableView(this);
    table_->setModel(model_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    table_->setAlternatingRowColors(true);
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &RunsPage::showDetails);
    connect(table_, &QTableView::doubleClicked, this, [this] {
        if (qint64 id = selectedRun()) emit openRunRequested(id);
    });

    details_title_ = new QLabel(this);
    QFont bold = details_title_->font();
    bold.setBold(true);
    details_title_->setFont(bold);
    resume_ = new QPushButton(tr("Resume"), this);
    resume_->setToolTip(tr("Continue this run from its last checkpoint on the Monitor page"));
    charts_ = new QPushButton(tr("Open Charts"), this);
    charts_->setToolTip(tr("Show this run's loss and metrics on the Monitor page (or double-click the run)"));
    export_ = new QPushButton(tr("Export…"), this);
    export_->setObjectName("exportRun");
    export_->setToolTip(tr("Write this run as a merged model or a PEFT adapter (the export wizard)"));
    connect(export_, &QPushButton::clicked, this, [this] {
        if (qint64 id = selectedRun()) emit exportRequested(id);
    });
    delete_ = new QPushButton(tr("Delete…"), this);
    delete_->setShortcut(QKeySequence::Delete);
    connect(resume_, &QPushButton::clicked, this, [this] {
        if (qint64 id = selectedRun()) emit resumeRequested(id);
    });
    connect(charts_, &QPushButton::clicked, this, [this] {
        if (qint64 id = selectedRun()) emit openRunRequested(id);
    });
    connect(delete_, &QPushButton::clicked, this, &RunsPage::deleteSelectedRun);
    auto* actions = new QHBoxLayout;
    actions->addWidget(details_title_, 1);
    actions->addWidget(resume_);
    actions->addWidget(charts_);
    actions->addWidget(export_);
    actions->addWidget(delete_);

    auto* config_box = new QGroupBox(tr("Config (YAML)"), this);
    config_ = new QPlainTextEdit(config_box);
    config_->setReadOnly(true);
    config_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    (new QVBoxLayout(config_box))->addWidget(config_);
    auto* metrics_box = new QGroupBox(tr("Final metrics"), this);
    metrics_ = new QLabel(metrics_box);
    metrics_->setObjectName("runMetrics");
    metrics_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    metrics_->setWordWrap(true);
    metrics_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    (new QVBoxLayout(metrics_box))->addWidget(metrics_);
    auto* checkpoints_box = new QGroupBox(tr("Checkpoints"), this);
    checkpoints_ = new QListWidget(checkpoints_box);
    checkpoints_->setObjectName("runCheckpoints");
    (new QVBoxLayout(checkpoints_box))->addWidget(checkpoints_);
    auto* boxes = new QHBoxLayout;
    boxes->addWidget(config_box, 3);
    boxes->addWidget(metrics_box, 2);
    boxes->addWidget(checkpoints_box, 3);

    auto* details = new QWidget(this);
    auto* details_layout = new QVBoxLayout(details);
    details_layout->setContentsMargins(0, 0, 0, 0);
    details_layout->addLayout(actions);
    details_layout->addLayout(boxes, 1);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(table_);
    split->addWidget(details);
    split->setChildrenCollapsible(false);
    split->setSizes({400, 400});

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(message_);
    layout->addWidget(split, 1);

    // The store is re-read whenever its database files change, or another database is chosen.
    connect(&store_, &StudioRunStore::changed, this, &RunsPage::reload);
    connect(&store_, &StudioRunStore::pathChanged, this, &RunsPage::showStorePath);
    showStorePath();
    reload();
}

RunsPage::~RunsPage() = default;

void RunsPage::setStorePath(const QString& path) { store_.setPath(path); }

QString RunsPage::storePath() const { return store_.filePath(); }

void RunsPage::showStorePath() { store_label_->setText(tr("Run store: %1").arg(store_.filePath())); }

void RunsPage::chooseStorePath() {
    QString path = QFileDialog::getSaveFileName(this, tr("Run Store Database"), storePath(), tr("SQLite databases (*.db);;All files (*)"),
                                                nullptr, QFileDialog::DontConfirmOverwrite);
    if (!path.isEmpty()) setStorePath(path);
}

void RunsPage::reload() {
    qint64 keep = selectedRun();
    QVector<RunRow> rows;
    message_->hide();
    readable_ = false;
    if (!store_.exists()) {
        // Not created here: `lathe train` creates it with the first run.
        message_->setText(tr("No runs yet: `lathe train` (or the Train page) records runs in %1.").arg(storePath()));
        message_->show();
    } else {
        try {
            for (const lathe::RunRecord& r : store_.list_runs()) rows.push_back(describeRun(store_, r));
            std::sort(rows.begin(), rows.end(), [](const RunRow& a, const RunRow& b) { return a.run.id > b.run.id; });
            readable_ = true;
        } catch (const std::exception& e) {  // lathe::Error: a damaged or foreign database
            rows.clear();
            message_->setText(tr("Cannot read the run store: %1").arg(QString::fromUtf8(e.what())));
            message_->show();
        }
    }
    model_->setRows(std::move(rows));
    table_->resizeColumnsToContents();
    int row = model_->rowOf(keep);
    if (row < 0 && model_->rowCount() > 0) row = 0;
    if (row >= 0) table_->selectRow(row);
    showDetails();
    emit runsChanged();
}

qint64 RunsPage::selectedRun() const {
    QModelIndex current = table_->selectionModel()->currentIndex();
    return current.isValid() ? model_->rowAt(current.row()).run.id : 0;
}

void RunsPage::selectRun(qint64 run_id) {
    int row = model_->rowOf(run_id);
    if (row >= 0) table_->selectRow(row);
}

void RunsPage::showDetails() {
    qint64 id = selectedRun();
    checkpoints_->clear();
    if (!id || !readable_) {
        details_title_->setText(model_->rowCount() ? tr("Select a run") : tr("No runs"));
        config_->clear();
        metrics_->clear();
        for (QPushButton* b : {resume_, charts_, export_, delete_}) b->setEnabled(false);
        return;
    }
    const RunRow& row = model_->rowAt(model_->rowOf(id));
    const lathe::RunRecord& r = row.run;
    details_title_->setText(tr("Run %1 — %2 — %3").arg(id).arg(q(r.name), QString(lathe::to_string(r.status))));
    config_->setPlainText(q(r.config_text));

    QString html = "<table cellspacing=4>";
    auto line = [&html](const QString& key, const QString& value) {
        html += QString("<tr><td><b>%1</b></td><td>%2</td></tr>").arg(key.toHtmlEscaped(), value.toHtmlEscaped());
    };
    auto final = nlohmann::json::parse(r.final_metrics.empty() ? "null" : r.final_metrics, nullptr, false);
    if (final.is_object()) {
        for (const auto& [key, value] : final.items())
            line(q(key), value.is_number_float() ? QString::number(value.get<double>(), 'g', 6) : q(value.dump()));
    } else {
        line(tr("final metrics"), tr("none yet (the run has not ended)"));
    }
    line(tr("method"), row.method);
    line(tr("model"), q(r.model));
    line(tr("output"), q(r.output_dir));
    if (!r.error.empty()) line(tr("error"), q(r.error));
    metrics_->setText(html + "</table>");

    bool any_checkpoint = false;
    qint64 last_present = -1;
    for (const lathe::CheckpointRecord& c : store_.checkpoints(id)) {
        bool present = QFileInfo::exists(q(c.path));
        any_checkpoint = any_checkpoint || present;
        if (present) last_present = c.step;
        // The folder's name; the whole path (under the output folder shown beside) in the tooltip.
        auto* item = new QListWidgetItem(tr("step %1 — %2%3").arg(c.step).arg(QFileInfo(q(c.path)).fileName(), present ? "" : tr("  (missing)")),
                                         checkpoints_);
        item->setData(Qt::UserRole, q(c.path));
        item->setToolTip(q(c.path));
    }
    // Resume continues a run that did not finish — stopped, failed, or interrupted (its process died without
    // an end event) — from its last checkpoint on disk. A run still running is not resumed twice.
    const bool unfinished = lathe::is_resumable(r.status);
    resume_->setEnabled(unfinished && any_checkpoint);
    resume_->setToolTip(unfinished && any_checkpoint ? tr("Continue from the checkpoint at step %1").arg(last_present) : QString());
    charts_->setEnabled(true);
    export_->setEnabled(any_checkpoint);
    delete_->setEnabled(true);
}

void RunsPage::deleteSelectedRun() {
    qint64 id = selectedRun();
    if (!id || !readable_) return;
    const lathe::RunRecord& r = model_->rowAt(model_->rowOf(id)).run;
    QString text = tr("Delete run %1 (%2, %3)?\n\nIts metrics, events and checkpoint list are removed from the run store. "
                      "Files in %4 stay on disk.")
                       .arg(id)
                       .arg(q(r.name), QString(lathe::to_string(r.status)), q(r.output_dir));
    if (QMessageBox::question(this, tr("Delete Run"), text, QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) != QMessageBox::Yes)
        return;
    try {
        store_.deleteRun(id);
        emit statusMessage(tr("Deleted run %1").arg(id));
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Cannot delete run"), QString::fromUtf8(e.what()));
    }
    reload();
}
