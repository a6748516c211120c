// The rows of one dataset file as a table, for a QTableView that pages through a million rows: the file
// is indexed once (lathe::data::DatasetFile, 16 bytes a row) and data() parses only the rows on screen,
// keeping the last few hundred parsed. Torch-free (lathe_data).
#pragma once

#include <QAbstractTableModel>
#include <QCache>
#include <QStringList>
#include <memory>

#include "core/data/dataset_file.h"

class DatasetTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    explicit DatasetTableModel(QObject* parent = nullptr);

    // Shows `file` (null: empty). Columns: the line, then the fields of the first usable row (CSV: the
    // header), then "problem" when a row cannot be used.
    void setFile(std::shared_ptr<const lathe::data::DatasetFile> file);
    std::shared_ptr<const lathe::data::DatasetFile> file() const { return file_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // The row that starts at or contains file line `line` (rows are in line order); -1 when none.
    int rowForLine(qint64 line) const;
    // How many rows data() has parsed since setFile (the view parses only what it shows).
    qint64 rowsParsed() const { return parsed_; }

private:
    struct Parsed {
        QStringList cells;  // one per field column
        QString problem;    // set when the row cannot be used
    };
    const Parsed& parsedRow(int row) const;

    std::shared_ptr<const lathe::data::DatasetFile> file_;
    QStringList fields_;
    mutable QCache<int, Parsed> cache_;
    mutable qint64 parsed_ = 0;
};
