#include "ui/pages/dataset_table_model.h"

#include <QColor>

#include <algorithm>

namespace {
constexpr int kCachedRows = 512;   // a few screens of rows
constexpr int kCellChars = 300;    // a cell shows the start of a long value; the row view shows all of it
constexpr int kFieldsFromRows = 20;  // the columns come from the first usable row among these

QString cellText(const nlohmann::ordered_json& v) {
    std::string s = v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    QString t = QString::fromStdString(s.size() > 4 * kCellChars ? s.substr(0, 4 * kCellChars) : s);
    if (t.size() > kCellChars) t = t.left(kCellChars) + QStringLiteral("…");
    t.replace('\n', QStringLiteral("⏎"));
    return t;
}
}  // namespace

DatasetTableModel::DatasetTableModel(QObject* parent) : QAbstractTableModel(parent), cache_(kCachedRows) {}

void DatasetTableModel::setFile(std::shared_ptr<const lathe::data::DatasetFile> file) {
    beginResetModel();
    file_ = std::move(file);
    fields_.clear();
    cache_.clear();
    if (file_) {
        for (const std::string& c : file_->columns()) fields_ << QString::fromStdString(c);
        for (size_t i = 0; fields_.isEmpty() && i < std::min<size_t>(file_->size(), kFieldsFromRows); ++i) {
            auto row = file_->row(i);
            if (auto* r = std::get_if<lathe::data::RawRow>(&row))
                for (auto it = r->value.begin(); it != r->value.end(); ++it) fields_ << QString::fromStdString(it.key());
        }
    }
    parsed_ = 0;
    endResetModel();
}

int DatasetTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !file_ ? 0 : static_cast<int>(file_->size());
}

int DatasetTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() || !file_ ? 0 : static_cast<int>(fields_.size()) + 2;  // line, fields..., problem
}

const DatasetTableModel::Parsed& DatasetTableModel::parsedRow(int row) const {
    if (Parsed* p = cache_.object(row)) return *p;
    auto* p = new Parsed;
    ++parsed_;
    auto result = file_->row(static_cast<size_t>(row));
    if (auto* problem = std::get_if<lathe::data::Problem>(&result)) {
        p->problem = QString::fromStdString((problem->field.empty() ? "" : problem->field + ": ") + problem->message);
        for (int i = 0; i < fields_.size(); ++i) p->cells << QString();
    } else {
        const auto& value = std::get<lathe::data::RawRow>(result).value;
        for (const QString& f : fields_) {
            auto it = value.find(f.toStdString());
            p->cells << (it == value.end() ? QString() : cellText(*it));
        }
    }
    cache_.insert(row, p);
    return *p;
}

QVariant DatasetTableModel::data(const QModelIndex& index, int role) const {
    if (!file_ || !index.isValid() || index.row() >= rowCount()) return {};
    const int col = index.column();
    if (col == 0) {
        if (role == Qt::DisplayRole) return static_cast<qlonglong>(file_->line(static_cast<size_t>(index.row())));
        if (role == Qt::TextAlignmentRole) return int(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    }
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole && role != Qt::ForegroundRole) return {};
    const Parsed& p = parsedRow(index.row());
    if (col == columnCount() - 1) {
        if (role == Qt::ForegroundRole) return p.problem.isEmpty() ? QVariant() : QVariant(QColor(Qt::red));
        return p.problem;
    }
    if (role == Qt::ForegroundRole) return {};
    return p.cells.value(col - 1);
}

QVariant DatasetTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (role != Qt::DisplayRole || orientation != Qt::Horizontal) return {};
    if (section == 0) return tr("Line");
    if (section == columnCount() - 1) return tr("Problem");
    return fields_.value(section - 1);
}

int DatasetTableModel::rowForLine(qint64 line) const {
    if (!file_ || file_->size() == 0) return -1;
    // The last row starting at or before `line`.
    size_t lo = 0, hi = file_->size();
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (file_->line(mid) <= line) lo = mid + 1;
        else hi = mid;
    }
    return lo == 0 ? -1 : static_cast<int>(lo - 1);
}
