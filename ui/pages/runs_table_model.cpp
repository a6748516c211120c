#include "ui/pages/runs_table_model.h"

#include <QApplication>
#include <QColor>
#include <QDateTime>
#include <QFileInfo>
#include <QPalette>

#include <nlohmann/json.hpp>

#include "core/train/events.h"
#include "core/train/training_method.h"

namespace {

QString timeText(double unix_seconds) {
    if (unix_seconds <= 0) return {};
    return QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(unix_seconds * 1000)).toString("yyyy-MM-dd HH:mm:ss");
}

}  // namespace

QString trainingMethod(const std::string& config_yaml) {
    lathe::TrainConfig c;
    try {
        c = lathe::parse_train_config(config_yaml, "the run's config");
    } catch (const std::exception&) {
        return QObject::tr("unknown");  // no config stored, or one this version no longer accepts
    }
    QString method = QString::fromStdString(lathe::method_label(c));
    if (lathe::is_continued_pretraining(c)) method += QObject::tr(", continued pretraining");
    return method;
}

RunRow describeRun(const lathe::RunReader& store, const lathe::RunRecord& run) {
    RunRow row;
    row.run = run;
    row.method = trainingMethod(run.config_text);
    std::optional<lathe::FinalMetrics> final;
    try {
        if (!run.final_metrics.empty()) final = lathe::final_metrics_from_json(nlohmann::json::parse(run.final_metrics));
    } catch (const std::exception&) {
        // Unreadable final metrics: the latest logged point below, as for a run without any.
    }
    if (final) {
        row.steps = final->step;
        row.loss = final->loss;
    } else {
        // Running or crashed: no final metrics yet, so the latest logged point.
        auto losses = store.metrics(run.id, "loss");
        if (!losses.empty()) {
            row.steps = losses.back().step;
            row.loss = losses.back().value;
        }
    }
    return row;
}

void RunsTableModel::setRows(QVector<RunRow> rows) {
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
}

int RunsTableModel::rowOf(qint64 run_id) const {
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].run.id == run_id) return i;
    return -1;
}

QVariant RunsTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rows_.size()) return {};
    const RunRow& r = rows_[index.row()];
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Id: return static_cast<qlonglong>(r.run.id);
        case Name: return QString::fromStdString(r.run.name);
        case Status: return QString(lathe::to_string(r.run.status));
        case Model: return QFileInfo(QString::fromStdString(r.run.model)).fileName();
        case Method: return r.method;
        case Started: return timeText(r.run.started_at > 0 ? r.run.started_at : r.run.created_at);
        case Ended: return timeText(r.run.finished_at);
        case Steps: return static_cast<qlonglong>(r.steps);
        case Loss: return r.loss ? QString::number(*r.loss, 'f', 4) : QString();
        }
    } else if (role == Qt::ToolTipRole) {
        if (index.column() == Model) return QString::fromStdString(r.run.model);
        if (index.column() == Status && !r.run.error.empty()) return QString::fromStdString(r.run.error);
    } else if (role == Qt::TextAlignmentRole) {
        if (index.column() == Id || index.column() == Steps || index.column() == Loss) return int(Qt::AlignRight | Qt::AlignVCenter);
    } else if (role == Qt::ForegroundRole && index.column() == Status) {
        // A mid red and the palette's link colour both read on light and dark backgrounds.
        switch (r.run.status) {
            case lathe::RunStatus::failed: return QColor(0xd0, 0x3a, 0x3a);
            case lathe::RunStatus::running: return QApplication::palette().color(QPalette::Link);
            case lathe::RunStatus::interrupted: return QColor(0xc0, 0x80, 0x10);  // an amber: not failed, not finished
            default: break;
        }
    }
    return {};
}

QVariant RunsTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
    case Id: return tr("ID");
    case Name: return tr("Name");
    case Status: return tr("Status");
    case Model: return tr("Model");
    case Method: return tr("Method");
    case Started: return tr("Started");
    case Ended: return tr("Ended");
    case Steps: return tr("Steps");
    case Loss: return tr("Final loss");
    }
    return {};
}
