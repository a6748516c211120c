// DatasetFile: random access by row number gives the same rows and problems as reading in order.
#include <gtest/gtest.h>

#include "core/data/dataset_file.h"
#include "core/util/error.h"
#include "tests/data/files_util.h"

namespace lathe {
namespace {

using test::DataDir;

void expect_same_as_streaming(const std::string& path) {
    auto streamed = test::read_all(path);
    auto file = data::DatasetFile::open(path);
    ASSERT_EQ(file.size(), streamed.rows.size() + streamed.problems.size()) << path;
    size_t r = 0, p = 0;
    // Read backwards too: each row is found on its own, not by walking from the start.
    for (size_t k = file.size(); k-- > 0;) (void)file.row(k);
    for (size_t i = 0; i < file.size(); ++i) {
        auto row = file.row(i);
        if (auto* raw = std::get_if<data::RawRow>(&row)) {
            ASSERT_LT(r, streamed.rows.size());
            EXPECT_EQ(raw->value, streamed.rows[r].value) << i;
            EXPECT_EQ(raw->line, streamed.rows[r].line) << i;
            EXPECT_EQ(file.line(i), raw->line);
            ++r;
        } else {
            ASSERT_LT(p, streamed.problems.size());
            EXPECT_EQ(std::get<data::Problem>(row).to_string(), streamed.problems[p].to_string());
            ++p;
        }
    }
}

TEST(DatasetFile, JsonlRowsByNumber) {
    DataDir dir;
    std::string text = "\xEF\xBB\xBF{\"a\": 1}\n\n  \n{\"a\": 2}\r\n{\"a\": bad}\n{\"a\": 4}";
    expect_same_as_streaming(dir.write("a.jsonl", text));
    auto file = data::DatasetFile::open(dir.file("a.jsonl"));
    ASSERT_EQ(file.size(), 4u);
    EXPECT_EQ(file.line(3), 6);
    EXPECT_EQ(std::get<data::RawRow>(file.row(3)).value["a"], 4);
}

TEST(DatasetFile, CsvRowsByNumberWithMultiLineFields) {
    DataDir dir;
    std::string text = "q,a\n\"one\ntwo\",x\n\n3,4\n5,6,7\n\"last\",\"never ends\n";
    expect_same_as_streaming(dir.write("a.csv", text));
    auto file = data::DatasetFile::open(dir.file("a.csv"));
    ASSERT_EQ(file.size(), 4u);
    EXPECT_EQ(file.columns(), (std::vector<std::string>{"q", "a"}));
    EXPECT_EQ(file.line(1), 5);
    expect_same_as_streaming(dir.write("b.tsv", "q\ta\n1\t2\n"));
}

TEST(DatasetFile, ManyRows) {
    DataDir dir;
    std::string text;
    for (int i = 0; i < 100000; ++i) text += "{\"i\": " + std::to_string(i) + "}\n";
    auto file = data::DatasetFile::open(dir.write("many.jsonl", text));
    ASSERT_EQ(file.size(), 100000u);
    EXPECT_EQ(std::get<data::RawRow>(file.row(76543)).value["i"], 76543);
    EXPECT_EQ(file.line(99999), 100000);
}

TEST(DatasetFile, CompressedAndOtherFormatsAreRefused) {
    DataDir dir;
    EXPECT_THROW(data::DatasetFile::open(dir.write_gzip("a.jsonl.gz", "{}\n")), Error);
    EXPECT_THROW(data::DatasetFile::open(dir.write("a.json", "[]")), Error);
    EXPECT_THROW(data::DatasetFile::open(dir.write("h.csv", "a,,b\n1,2,3\n")), Error);
}

}  // namespace
}  // namespace lathe
