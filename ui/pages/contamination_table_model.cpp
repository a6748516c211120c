#include "ui/pages/contamination_table_model.h"

#include <QFileInfo>

namespace {

// One line of a long text for a table cell; the tooltip holds the whole of it.
QString oneLine(QString text) { return text.replace('\n', ' ').replace('\r', ' ').replace('\t', ' '); }

}  // namespace

QString evalItemPlace(const ContaminationHit& hit) {
    if (hit.eval_location.startsWith(hit.eval_file)) return QFileInfo(hit.eval_file).fileName() + hit.eval_location.mid(hit.eval_file.size());
    return hit.eval_location;
}

ContaminationTableModel::ContaminationTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void ContaminationTableModel::clear() {
    beginResetModel();
    rows_.clear();
    endResetModel();
}

void ContaminationTableModel::append(const QList<ContaminatedRow>& rows) {
    const qsizetype room = kMaxRows - rows_.size();
    const qsizetype n = std::min(room, rows.size());
    if (n <= 0) return;
    beginInsertRows({}, static_cast<int>(rows_.size()), static_cast<int>(rows_.size() + n - 1));
    rows_.append(rows.first(n));
    endInsertRows();
}

int ContaminationTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int ContaminationTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ContaminationTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rows_.size()) return {};
    const ContaminatedRow& row = rows_[index.row()];
    if (row.hits.isEmpty()) return {};
    const ContaminationHit& first = row.hits.first();  // the CLI lists hits in the order the row meets them
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case FileColumn: return QFileInfo(row.file).fileName();
        case LineColumn: return row.line;
        case EvalItemColumn: {
            QString text = evalItemPlace(first) + "  " + oneLine(first.eval_item);
            if (row.hits.size() > 1) text = tr("(%1 items) ").arg(row.hits.size()) + text;
            return text;
        }
        case SharedColumn: return tr("%1 (item: %2)").arg(first.matched_ngrams).arg(first.eval_ngrams);
        case OverlapColumn: return tr("%1 words: %2").arg(first.overlap_words).arg(first.overlap);
        }
    } else if (role == Qt::ToolTipRole) {
        if (index.column() == FileColumn) return row.file;
        QString tip;
        for (const ContaminationHit& h : row.hits)
            tip += tr("<p><b>%1</b>: %2<br>%3 of its %4 n-grams in this row; longest overlap %5 words: <i>%6</i></p>")
                       .arg(evalItemPlace(h).toHtmlEscaped(), h.eval_item.toHtmlEscaped())
                       .arg(h.matched_ngrams)
                       .arg(h.eval_ngrams)
                       .arg(h.overlap_words)
                       .arg(h.overlap.toHtmlEscaped());
        return tip;
    } else if (role == Qt::TextAlignmentRole && (index.column() == LineColumn || index.column() == SharedColumn)) {
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    }
    return {};
}

QVariant ContaminationTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case FileColumn: return tr("File");
        case LineColumn: return tr("Line");
        case EvalItemColumn: return tr("Eval item");
        case SharedColumn: return tr("Shared n-grams");
        case OverlapColumn: return tr("Longest overlap");
        }
    } else if (role == Qt::ToolTipRole) {
        switch (section) {
        case LineColumn: return tr("The training row's line in its file");
        case SharedColumn: return tr("The row's n-grams that are n-grams of the eval item, and how many n-grams the item has (the first item when the row holds several)");
        case OverlapColumn: return tr("The longest run of words the row and the item share, after lm-evaluation-harness's normalisation");
        }
    }
    return {};
}
