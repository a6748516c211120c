#include "ui/pages/runs_table_model.h"

#include <QApplication>
#include <QColor>
#include <QDateTime>
#include <QFileInfo>
#include <QPalette>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace {

QString timeText(double unix_seconds) {
    if (unix_seconds <= 0) return {};
    return QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(unix_seconds * 1000)).toString("yyyy-MM-dd HH:mm:ss");
}

}  // namespace

QString trainingMethod(const std::string& config_yaml) {
    YAML::Node c;
    try {
        c = YAML::Load(config_yaml);
    } catch (const YAML::Exception&) {
        return QObject::tr("unknown");
    }
    if (!c.IsMap()) return QObject::tr("unknown");
    auto flag = [&](const char* key) { return c[key] && c[key].IsScalar() && c[key].as<std::string>() == "true"; };
    QString method;
    std::string adapter = c["adapter"] && c["adapter"].IsScalar() ? c["adapter"].as<std::string>() : "";
    if (adapter.empty()) method = QObject::tr("full");
    else if (flag("peft_use_dora")) method = "DoRA";
    else if (flag("peft_use_rslora")) method = "rsLoRA";
    else if (adapter == "lora") method = "LoRA";
    else method = QString::fromStdString(adapter);
    bool raw_text = c["datasets"] && c["datasets"].IsSequence() && c["datasets"].size() > 0;
    if (raw_text)
        for (const auto& d : c["datasets"])
            raw_text = raw_text && d.IsMap() && d["type"] && d["type"].as<std::string>() == "text";
    if (raw_text) method += QObject::tr(", continued pretraining");
    return method;
}

RunRow describeRun(const lathe::RunStore& store, const lathe::RunRecord& run) {
    RunRow row;
    row.run = run;
    row.method = trainingMethod(run.config_text);
    auto final = nlohmann::json::parse(run.final_metrics.empty() ? "null" : run.final_metrics, nullptr, false);
    if (final.is_object() && final.contains("step")) {
        row.steps = final["step"].get<int64_t>();
        if (final.contains("loss") && final["loss"].is_number()) row.loss = final["loss"].get<double>();
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
        case Status: return QString::fromStdString(r.run.status);
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
        if (r.run.status == "failed") return QColor(0xd0, 0x3a, 0x3a);
        if (r.run.status == "running") return QApplication::palette().color(QPalette::Link);
        if (r.run.status == "interrupted") return QColor(0xc0, 0x80, 0x10);  // an amber: not failed, not finished
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
