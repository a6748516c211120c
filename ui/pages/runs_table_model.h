// The run store's runs as a table: one row per run, newest first, with what the history list shows
// (status, model, method, times, steps, final loss). Plain structs in, a QAbstractTableModel out.
#pragma once

#include <QAbstractTableModel>
#include <QString>
#include <QVector>
#include <optional>

#include "core/runs/run_reader.h"

struct RunRow {
    lathe::RunRecord run;
    QString method;                 // "LoRA", "DoRA", "full", "LoRA, continued pretraining"…
    qint64 steps = 0;               // the last step recorded
    std::optional<double> loss;     // the final (or latest) training loss
};

// Reads what the table needs about `run` from `store` (the latest step and loss while it runs).
RunRow describeRun(const lathe::RunReader& store, const lathe::RunRecord& run);
// The finetuning method a run's YAML config asks for.
QString trainingMethod(const std::string& config_yaml);

class RunsTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Id, Name, Status, Model, Method, Started, Ended, Steps, Loss, ColumnCount };
    using QAbstractTableModel::QAbstractTableModel;

    void setRows(QVector<RunRow> rows);
    const RunRow& rowAt(int row) const { return rows_.at(row); }
    int rowOf(qint64 run_id) const;  // -1 when absent

    int rowCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : rows_.size(); }
    int columnCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : ColumnCount; }
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QVector<RunRow> rows_;
};
