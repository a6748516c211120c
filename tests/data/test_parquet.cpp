// Parquet files written by pyarrow (tests/interop/make_parquet_references.py) read as pyarrow's own
// Table.to_pylist() reads them back: several row groups, nulls, chat messages as list<struct>, token
// ids as list<int64>, every scalar type, nested lists, structs, dictionary columns.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lathe
