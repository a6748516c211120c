// Files written by Python's csv, json and gzip modules (tests/interop/make_data_references.py) read as
// Python itself reads them back: quotes, commas, tabs, line breaks (LF and CRLF) inside fields, non-ASCII.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/data/dataset_file.h"
#include "tests/data/data_test_util.h"
#include "tests/data/files_util.h"

namespace lathe {
namespace {

std::string data_refs() {
    const char* env = std::getenv("LATHE_DATA_REFS");
    std::string dir = env && *env ? env : LATHE_DATA_REFS_DEFAULT;
    if (!std::filesystem::exists(dir + "/expected.json"))
        throw std::runtime_error(dir + " has no data references: run tests/interop/make_references.sh (ctest does)");
    return dir;
}

void expect_rows(const std::string& path, const nlohmann::ordered_json& expected) {
    auto r = test::read_all(path);
    ASSERT_TRUE(r.problems.empty()) << r.problems[0].to_string();
    ASSERT_EQ(r.rows.size(), expected.size()) << path;
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(r.rows[i].value, expected[i]) << path << " row " << i;
}

TEST(PythonFiles, ReadAsPythonReadsThem) {
    std::string dir = data_refs();
    auto expected = test::read_json(dir + "/expected.json");
    expect_rows(dir + "/rows.csv", expected["csv"]);
    expect_rows(dir + "/rows.csv.gz", expected["csv"]);
    expect_rows(dir + "/rows.tsv", expected["tsv"]);
    expect_rows(dir + "/rows.json", expected["json"]);
    expect_rows(dir + "/rows_object.json", expected["json"]);
    expect_rows(dir + "/rows.jsonl", expected["json"]);
    expect_rows(dir + "/rows.jsonl.gz", expected["json"]);
    // Random access gives the same rows.
    for (const char* name : {"/rows.csv", "/rows.tsv", "/rows.jsonl"}) {
        auto file = data::DatasetFile::open(dir + name);
        const auto& rows = std::string(name) == "/rows.tsv" ? expected["tsv"] : std::string(name) == "/rows.csv" ? expected["csv"] : expected["json"];
        ASSERT_EQ(file.size(), rows.size()) << name;
        for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(std::get<data::RawRow>(file.row(i)).value, rows[i]) << name << " row " << i;
    }
}

}  // namespace
}  // namespace lathe
