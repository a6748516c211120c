// Parquet files written by pyarrow (tests/interop/make_parquet_references.py) read as pyarrow's own
// Table.to_pylist() reads them back: several row groups, nulls, chat messages as list<struct>, token
// ids as list<int64>, every scalar type, nested lists, structs, dictionary columns.
#include <arrow/builder.h>
#include <arrow/io/file.h>
#include <arrow/table.h>
#include <gtest/gtest.h>
#include <parquet/arrow/writer.h>

#include <cstdlib>
#include <filesystem>

#include "core/data/samples.h"
#include "core/util/error.h"
#include "tests/data/data_test_util.h"
#include "tests/data/files_util.h"

namespace lathe {
namespace {

std::string parquet_refs() {
    const char* env = std::getenv("LATHE_PARQUET_REFS");
    std::string dir = env && *env ? env : LATHE_PARQUET_REFS_DEFAULT;
    if (!std::filesystem::exists(dir + "/expected.json"))
        throw std::runtime_error(dir + " has no Parquet references: run tests/interop/make_references.sh (ctest does)");
    return dir;
}

void expect_rows(const std::string& dir, const std::string& name) {
    auto expected = test::read_json(dir + "/expected.json")[name];
    std::string path = dir + "/" + name + ".parquet";
    auto r = test::read_all(path);
    ASSERT_TRUE(r.problems.empty()) << r.problems[0].to_string();
    ASSERT_EQ(r.rows.size(), expected.size()) << path;
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(r.rows[i].value, expected[i]) << path << " row " << i << ": " << r.rows[i].value.dump();
        EXPECT_EQ(r.rows[i].line, static_cast<int64_t>(i + 1));
        EXPECT_EQ(r.rows[i].file, path);
    }
}

TEST(Parquet, AlpacaRowsAcrossRowGroups) { expect_rows(parquet_refs(), "alpaca"); }
TEST(Parquet, ChatMessagesAsListOfStruct) { expect_rows(parquet_refs(), "chat"); }
TEST(Parquet, PretokenizedListsOfInts) { expect_rows(parquet_refs(), "pretokenized"); }
TEST(Parquet, EveryScalarTypeAndNesting) { expect_rows(parquet_refs(), "types"); }

TEST(Parquet, RowsBecomeSamples) {
    std::string dir = parquet_refs();
    auto chat = test::read_all(dir + "/chat.parquet");
    ASSERT_FALSE(chat.rows.empty());
    EXPECT_EQ(data::detect_row_type(chat.rows[1].value), data::RowType::chat);
    auto sample = data::to_sample(chat.rows[1], data::RowType::chat);
    ASSERT_TRUE(std::holds_alternative<data::Sample>(sample)) << std::get<data::Problem>(sample).to_string();
    EXPECT_EQ(std::get<data::Sample>(sample).messages.size(), 1u);
    auto tokens = test::read_all(dir + "/pretokenized.parquet");
    auto expected = test::read_json(dir + "/expected.json")["pretokenized"];
    auto first = data::to_sample(tokens.rows[0], data::RowType::pretokenized);
    ASSERT_TRUE(std::holds_alternative<data::Sample>(first)) << std::get<data::Problem>(first).to_string();
    EXPECT_EQ(std::get<data::Sample>(first).input_ids, expected[0]["input_ids"].get<std::vector<int64_t>>());
}

TEST(Parquet, UnsupportedColumnTypeNamesTheColumn) {
    std::string path = parquet_refs() + "/unsupported.parquet";
    auto r = test::read_all(path);
    EXPECT_TRUE(r.rows.empty());
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].field, "meta.when");
    EXPECT_EQ(r.problems[0].line, 0);
    EXPECT_NE(r.problems[0].message.find("timestamp"), std::string::npos) << r.problems[0].message;
}

TEST(Parquet, NotParquetIsAClearError) {
    test::DataDir dir;
    std::string path = dir.write("a.parquet", "PAR1 but not really");
    try {
        test::read_all(path);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path + ": not a readable Parquet file"), std::string::npos) << e.what();
    }
    // A file cut short loses its footer: also refused as a whole, not read as fewer rows.
    std::string whole = test::read_text(parquet_refs() + "/alpaca.parquet");
    std::string cut = dir.write("cut.parquet", whole.substr(0, whole.size() / 2));
    EXPECT_THROW(test::read_all(cut), Error);
}

TEST(Parquet, StreamsWithMemoryThatDoesNotGrowWithTheFile) {
    // About 200 MB of Parquet in 100 row groups of 2 MB, written by Arrow's own Parquet writer one row
    // group at a time (random text, so compression cannot shrink it), then read while the resident memory
    // is sampled from the row callback: it must stay far below the file's size. Arrow's allocator and
    // readers take about 25 MB whatever the file's size (measured: 25 MB for 100 MB, 27 MB for 300 MB);
    // with pre-buffering on, the reader held the whole file (116 MB for 100 MB).
    test::DataDir dir;
    std::string path = dir.file("big.parquet");
    auto schema = arrow::schema({arrow::field("i", arrow::int64()), arrow::field("text", arrow::utf8())});
    auto sink = arrow::io::FileOutputStream::Open(path);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    auto writer = parquet::arrow::FileWriter::Open(*schema, arrow::default_memory_pool(), *sink);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    const int groups = 100, rows_per_group = 10000;
    std::mt19937 rng(0);
    std::string text(200, ' ');
    for (int g = 0; g < groups; ++g) {
        arrow::Int64Builder ids;
        arrow::StringBuilder texts;
        for (int k = 0; k < rows_per_group; ++k) {
            for (char& c : text) c = static_cast<char>('!' + rng() % 90);
            ASSERT_TRUE(ids.Append(int64_t{g} * rows_per_group + k).ok());
            ASSERT_TRUE(texts.Append(text).ok());
        }
        auto table = arrow::Table::Make(schema, {*ids.Finish(), *texts.Finish()});
        ASSERT_TRUE((*writer)->WriteTable(*table, rows_per_group).ok());
    }
    ASSERT_TRUE((*writer)->Close().ok());
    ASSERT_TRUE((*sink)->Close().ok());
    ASSERT_GT(std::filesystem::file_size(path), 180u << 20);

    size_t baseline = test::resident_bytes(), most = baseline;
    int64_t expected = 0;
    bool in_order = true;
    data::read_rows(
        path, {},
        [&](data::RawRow&& row) {
            in_order = in_order && row.value["i"] == expected && row.line == expected + 1 && row.value["text"].get_ref<const std::string&>().size() == 200;
            if (++expected % 5000 == 0) most = std::max(most, test::resident_bytes());
        },
        [&](data::Problem&& p) { ADD_FAILURE() << p.to_string(); });
    EXPECT_EQ(expected, int64_t{groups} * rows_per_group);
    EXPECT_TRUE(in_order);
    EXPECT_LT(most - baseline, 48u << 20) << "resident memory grew by " << (most - baseline) / (1 << 20) << " MB while reading";
}

}  // namespace
}  // namespace lathe
