// Parquet files through Arrow C++ (from the pyarrow wheel, cmake/LatheArrow.cmake): record batches of a
// few thousand rows, decoded a row group at a time, so memory follows the row group, not the file.
// Each row becomes a JSON object the way pyarrow's Table.to_pylist() sees it.
#include <arrow/array.h>
#include <arrow/io/file.h>
#include <arrow/record_batch.h>
#include <parquet/arrow/reader.h>
#include <parquet/properties.h>

#include <optional>

#include "core/data/formats.h"
#include "core/util/error.h"
#include "core/util/utf8.h"

namespace lathe::data {

namespace {

struct UnsupportedColumn {
    std::string field;  // "meta.created", "events[].at"
    std::string type;
};

// The first field (depth first) whose type has no JSON form; none for text, numbers, booleans, nulls,
// lists and structs of them, and dictionary-encoded values (pandas categoricals).
std::optional<UnsupportedColumn> find_unsupported(const arrow::DataType& type, const std::string& field) {
    switch (type.id()) {
        case arrow::Type::NA:
        case arrow::Type::BOOL:
        case arrow::Type::INT8:
        case arrow::Type::INT16:
        case arrow::Type::INT32:
        case arrow::Type::INT64:
        case arrow::Type::UINT8:
        case arrow::Type::UINT16:
        case arrow::Type::UINT32:
        case arrow::Type::UINT64:
        case arrow::Type::FLOAT:
        case arrow::Type::DOUBLE:
        case arrow::Type::STRING:
        case arrow::Type::LARGE_STRING:
        case arrow::Type::STRING_VIEW: return std::nullopt;
        case arrow::Type::LIST:
        case arrow::Type::LARGE_LIST:
        case arrow::Type::FIXED_SIZE_LIST: return find_unsupported(*type.field(0)->type(), field + "[]");
        case arrow::Type::STRUCT:
            for (const auto& child : type.fields())
                if (auto u = find_unsupported(*child->type(), field + "." + child->name())) return u;
            return std::nullopt;
        case arrow::Type::DICTIONARY:
            return find_unsupported(*static_cast<const arrow::DictionaryType&>(type).value_type(), field);
        default: return UnsupportedColumn{field, type.ToString()};
    }
}

// A value that cannot be a JSON string (invalid UTF-8), for the row's Problem.
struct BadValue {
    std::string field;
    std::string message;
};

nlohmann::ordered_json value_at(const arrow::Array& a, int64_t i, const std::string& field);

template <typename ListArrayType>
nlohmann::ordered_json list_at(const arrow::Array& a, int64_t i, const std::string& field) {
    const auto& list = static_cast<const ListArrayType&>(a);
    const arrow::Array& values = *list.values();
    auto out = nlohmann::ordered_json::array();
    int64_t begin = list.value_offset(i), n = list.value_length(i);
    for (int64_t k = 0; k < n; ++k) out.push_back(value_at(values, begin + k, field + "[" + std::to_string(k) + "]"));
    return out;
}

template <typename StringArrayType>
nlohmann::ordered_json string_at(const arrow::Array& a, int64_t i, const std::string& field) {
    std::string_view s = static_cast<const StringArrayType&>(a).GetView(i);
    size_t bad = find_invalid_utf8(s);
    if (bad != std::string_view::npos)
        throw BadValue{field, "invalid UTF-8 (byte " + std::to_string(bad) + " of the string); write the column as UTF-8 text"};
    return std::string(s);
}

template <typename NumericArrayType>
auto number_at(const arrow::Array& a, int64_t i) {
    return static_cast<const NumericArrayType&>(a).Value(i);
}

// Row i of array a as JSON; types were checked by find_unsupported first.
nlohmann::ordered_json value_at(const arrow::Array& a, int64_t i, const std::string& field) {
    if (a.IsNull(i)) return nullptr;
    switch (a.type_id()) {
        case arrow::Type::BOOL: return static_cast<const arrow::BooleanArray&>(a).Value(i);
        case arrow::Type::INT8: return int64_t{number_at<arrow::Int8Array>(a, i)};
        case arrow::Type::INT16: return int64_t{number_at<arrow::Int16Array>(a, i)};
        case arrow::Type::INT32: return int64_t{number_at<arrow::Int32Array>(a, i)};
        case arrow::Type::INT64: return int64_t{number_at<arrow::Int64Array>(a, i)};
        case arrow::Type::UINT8: return uint64_t{number_at<arrow::UInt8Array>(a, i)};
        case arrow::Type::UINT16: return uint64_t{number_at<arrow::UInt16Array>(a, i)};
        case arrow::Type::UINT32: return uint64_t{number_at<arrow::UInt32Array>(a, i)};
        case arrow::Type::UINT64: return uint64_t{number_at<arrow::UInt64Array>(a, i)};
        case arrow::Type::FLOAT: return double{number_at<arrow::FloatArray>(a, i)};
        case arrow::Type::DOUBLE: return number_at<arrow::DoubleArray>(a, i);
        case arrow::Type::STRING: return string_at<arrow::StringArray>(a, i, field);
        case arrow::Type::LARGE_STRING: return string_at<arrow::LargeStringArray>(a, i, field);
        case arrow::Type::STRING_VIEW: return string_at<arrow::StringViewArray>(a, i, field);
        case arrow::Type::LIST: return list_at<arrow::ListArray>(a, i, field);
        case arrow::Type::LARGE_LIST: return list_at<arrow::LargeListArray>(a, i, field);
        case arrow::Type::FIXED_SIZE_LIST: return list_at<arrow::FixedSizeListArray>(a, i, field);
        case arrow::Type::STRUCT: {
            const auto& s = static_cast<const arrow::StructArray&>(a);
            auto out = nlohmann::ordered_json::object();
            for (int k = 0; k < s.num_fields(); ++k) {
                const std::string& name = s.struct_type()->field(k)->name();
                out[name] = value_at(*s.field(k), i, field + "." + name);
            }
            return out;
        }
        case arrow::Type::DICTIONARY: {
            const auto& d = static_cast<const arrow::DictionaryArray&>(a);
            return value_at(*d.dictionary(), d.GetValueIndex(i), field);
        }
        default: break;
    }
    LATHE_ASSERT(false);
    return nullptr;
}

}  // namespace

void read_parquet(const std::string& file, const RowCallback& on_row, const ProblemCallback& on_problem) {
    auto input = arrow::io::ReadableFile::Open(file);
    if (!input.ok()) throw Error(file + ": cannot open: " + input.status().message());
    parquet::ArrowReaderProperties properties;
    properties.set_batch_size(1024);
    properties.set_pre_buffer(false);  // pre-buffering reads every row group's bytes ahead: the whole file
    parquet::arrow::FileReaderBuilder builder;
    arrow::Status opened = builder.Open(*input);
    if (!opened.ok()) throw Error(file + ": not a readable Parquet file (" + opened.message() + ")");
    auto reader = builder.properties(properties)->Build();
    if (!reader.ok()) throw Error(file + ": not a readable Parquet file (" + reader.status().message() + ")");

    std::shared_ptr<arrow::Schema> schema;
    arrow::Status got_schema = (*reader)->GetSchema(&schema);
    if (!got_schema.ok()) throw Error(file + ": cannot read the Parquet schema (" + got_schema.message() + ")");
    for (const auto& column : schema->fields()) {
        if (auto u = find_unsupported(*column->type(), column->name())) {
            on_problem(Problem{file, 0, u->field,
                               "type " + u->type + " has no JSON form Lathe reads (text, numbers, booleans, lists and structs of "
                               "them); cast the column to string, or drop it, and write the file again. The file was not read"});
            return;
        }
    }

    auto batches = (*reader)->GetRecordBatchReader();
    if (!batches.ok()) throw Error(file + ": cannot read the Parquet file (" + batches.status().message() + ")");
    int64_t rows_done = 0;
    for (;;) {
        std::shared_ptr<arrow::RecordBatch> batch;
        arrow::Status read = (*batches)->ReadNext(&batch);
        if (!read.ok()) {
            on_problem(Problem{file, rows_done + 1, "", "cannot decode the Parquet data (" + read.message() + "); the rest of the file was not read"});
            return;
        }
        if (!batch) return;
        for (int64_t i = 0; i < batch->num_rows(); ++i) {
            int64_t line = rows_done + i + 1;
            RawRow row{file, line, nlohmann::ordered_json::object()};
            try {
                for (int c = 0; c < batch->num_columns(); ++c) {
                    const std::string& name = batch->schema()->field(c)->name();
                    row.value[name] = value_at(*batch->column(c), i, name);
                }
            } catch (BadValue& bad) {
                on_problem(Problem{file, line, std::move(bad.field), std::move(bad.message)});
                continue;
            }
            on_row(std::move(row));
        }
        rows_done += batch->num_rows();
    }
}

}  // namespace lathe::data
