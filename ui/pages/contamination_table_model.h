// The contaminated training rows `lathe data decontaminate` reported, one table row each: the training
// file and line, the eval item(s) found in it, how many of the item's n-grams the row shares, and the
// longest shared run of words. Only the first kMaxRows are kept (the result line still counts them all).
#pragma once

#include <QAbstractTableModel>
#include <QList>

#include "ui/decontaminate_process.h"

class ContaminationTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { FileColumn, LineColumn, EvalItemColumn, SharedColumn, OverlapColumn, ColumnCount };
    static constexpr qsizetype kMaxRows = 10000;

    explicit ContaminationTableModel(QObject* parent = nullptr);

    void clear();
    void append(const QList<ContaminatedRow>& rows);  // beyond kMaxRows, rows are dropped
    const QList<ContaminatedRow>& rows() const { return rows_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QList<ContaminatedRow> rows_;
};

// How the table names an eval item: its location with the eval file's folder left out
// ("eval.jsonl:3", "task.yaml: test doc 3").
QString evalItemPlace(const ContaminationHit& hit);
