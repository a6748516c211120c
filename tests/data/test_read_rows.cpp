// read_rows: every format and compression, the line of every row, and each kind of bad input reported
// with file and line while the good rows around it are still read.
#include <gtest/gtest.h>

#include "core/data/read_rows.h"
#include "core/util/error.h"
#include "tests/data/files_util.h"

namespace lathe {
namespace {

using data::ReadOptions;
using test::DataDir;
using test::read_all;
using test::resident_bytes;

const std::string kJsonl =
    "{\"text\": \"first\"}\n"
    "\n"
    "{\"text\": \"second \\u00e9\", \"n\": 2}\r\n"
    "{\"text\": \"third\"}";  // no newline at the end

void expect_three_rows(const test::ReadResult& r, const std::vector<int64_t>& lines) {
    ASSERT_TRUE(r.problems.empty()) << r.problems[0].to_string();
    ASSERT_EQ(r.rows.size(), 3u);
    EXPECT_EQ(r.rows[0].value["text"], "first");
    EXPECT_EQ(r.rows[1].value["text"], "second \u00e9");
    EXPECT_EQ(r.rows[2].value["text"], "third");
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r.rows[i].line, lines[i]) << i;
}

TEST(ReadRows, JsonlPlainGzipAndZstd) {
    DataDir dir;
    expect_three_rows(read_all(dir.write("a.jsonl", kJsonl)), {1, 3, 4});
    expect_three_rows(read_all(dir.write_gzip("a.jsonl.gz", kJsonl)), {1, 3, 4});
    expect_three_rows(read_all(dir.write_zstd("a.jsonl.zst", kJsonl)), {1, 3, 4});
    auto r = read_all(dir.write("a.jsonl", kJsonl));
    EXPECT_EQ(r.rows[1].file, dir.file("a.jsonl"));
    EXPECT_EQ(r.rows[1].value["n"], 2);
}

TEST(ReadRows, JsonArrayAndObjectHoldingOne) {
    DataDir dir;
    std::string array = "[\n  {\"text\": \"first\"},\n\n  {\"text\": \"second \\u00e9\",\n   \"n\": 2},\n  {\"text\": \"third\"}\n]\n";
    expect_three_rows(read_all(dir.write("a.json", array)), {2, 4, 6});
    expect_three_rows(read_all(dir.write_gzip("a.json.gz", array)), {2, 4, 6});
    expect_three_rows(read_all(dir.write_zstd("a.json.zst", array)), {2, 4, 6});
    std::string object = "{\"version\": \"1.0\", \"meta\": {\"a\": [1, 2]},\n \"data\": " + array + "}";
    expect_three_rows(read_all(dir.write("b.json", object)), {3, 5, 7});
    // Two arrays: the one named with json_field; without it the first, and a Problem naming the second.
    std::string two = "{\"train\": [{\"text\": \"t\"}],\n \"test\": [{\"text\": \"u\"}]}";
    auto r = read_all(dir.write("c.json", two), ReadOptions{.format = "", .json_field = "test"});
    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_EQ(r.rows[0].value["text"], "u");
    EXPECT_TRUE(r.problems.empty());
    r = read_all(dir.file("c.json"));
    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_EQ(r.rows[0].value["text"], "t");
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].line, 2);
    EXPECT_EQ(r.problems[0].field, "test");
    r = read_all(dir.file("c.json"), ReadOptions{.format = "", .json_field = "missing"});
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_NE(r.problems[0].message.find("no array under 'missing'"), std::string::npos) << r.problems[0].message;
    // On one line, an object holding an array is still JSON, not a one-row JSON Lines file.
    r = read_all(dir.write("e.json", "{\"data\": [{\"text\": \"a\"}, {\"text\": \"b\"}]}\n"));
    ASSERT_EQ(r.rows.size(), 2u);
    EXPECT_EQ(r.rows[1].value["text"], "b");
    // An empty array: no rows, no problems.
    r = read_all(dir.write("d.json", " [ ] "));
    EXPECT_TRUE(r.rows.empty() && r.problems.empty());
}

TEST(ReadRows, JsonLinesNamedDotJson) {
    DataDir dir;
    expect_three_rows(read_all(dir.write("lines.json", kJsonl)), {1, 3, 4});
}

TEST(ReadRows, CsvQuotingAsRfc4180) {
    DataDir dir;
    // Quoted delimiter, doubled quotes, a field over two lines (the row keeps its first line), CRLF,
    // an empty field, a blank line, a UTF-8 BOM.
    std::string csv =
        "\xEF\xBB\xBFinstruction,input,output\r\n"
        "\"Say \"\"hi\"\", please\",,hi\r\n"
        "\"two\nlines\",\"a, b\",ok\r\n"
        "\r\n"
        "plain,x,\"\"\n";
    for (const std::string& path : {dir.write("a.csv", csv), dir.write_gzip("a.csv.gz", csv), dir.write_zstd("a.csv.zst", csv)}) {
        auto r = read_all(path);
        ASSERT_TRUE(r.problems.empty()) << r.problems[0].to_string();
        ASSERT_EQ(r.rows.size(), 3u) << path;
        EXPECT_EQ(r.rows[0].value["instruction"], "Say \"hi\", please");
        EXPECT_EQ(r.rows[0].value["input"], "");
        EXPECT_EQ(r.rows[1].value["instruction"], "two\nlines");
        EXPECT_EQ(r.rows[1].value["input"], "a, b");
        EXPECT_EQ(r.rows[2].value["output"], "");
        EXPECT_EQ(r.rows[0].line, 2);
        EXPECT_EQ(r.rows[1].line, 3);
        EXPECT_EQ(r.rows[2].line, 6);
        // Columns keep the header's order.
        EXPECT_EQ(r.rows[0].value.begin().key(), "instruction");
    }
}

TEST(ReadRows, Tsv) {
    DataDir dir;
    auto r = read_all(dir.write("a.tsv", "text\tlabel\nhello, world\tpositive\n\"tab\there\"\tnegative\n"));
    ASSERT_TRUE(r.problems.empty());
    ASSERT_EQ(r.rows.size(), 2u);
    EXPECT_EQ(r.rows[0].value["text"], "hello, world");
    EXPECT_EQ(r.rows[1].value["text"], "tab\there");
    EXPECT_EQ(r.rows[1].value["label"], "negative");
}

TEST(ReadRows, CsvBadRows) {
    DataDir dir;
    auto r = read_all(dir.write("a.csv", "a,b\n1,2\n1,2,3\n4,5\n\"never,ends\n"));
    ASSERT_EQ(r.rows.size(), 2u);
    ASSERT_EQ(r.problems.size(), 2u);
    EXPECT_EQ(r.problems[0].line, 3);
    EXPECT_NE(r.problems[0].message.find("expected 2 fields"), std::string::npos);
    EXPECT_EQ(r.problems[1].line, 6);  // where reading stopped
    EXPECT_NE(r.problems[1].message.find("starts on line 5 never ends"), std::string::npos) << r.problems[1].message;
    r = read_all(dir.write("b.csv", "a,a\n1,2\n"));
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].line, 1);
    EXPECT_NE(r.problems[0].message.find("repeats the name 'a'"), std::string::npos);
}

TEST(ReadRows, TextDocumentsAndFolders) {
    DataDir dir;
    auto r = read_all(dir.write("doc.md", "# Title\n\nBody.\n"));
    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_EQ(r.rows[0].value["text"], "# Title\n\nBody.\n");
    dir.write("corpus/b.txt", "second");
    dir.write("corpus/a.md", "first");
    dir.write_gzip("corpus/sub/c.txt.gz", "third");
    dir.write_zstd("corpus/sub/d.md.zst", "fourth");
    dir.write("corpus/.hidden.txt", "not read");
    dir.write("corpus/notes.json", "{}");
    r = read_all(dir.file("corpus"));
    ASSERT_EQ(r.rows.size(), 4u);
    EXPECT_EQ(r.rows[0].value["text"], "first");
    EXPECT_EQ(r.rows[1].value["text"], "second");
    EXPECT_EQ(r.rows[2].value["text"], "third");
    EXPECT_EQ(r.rows[3].value["text"], "fourth");
    EXPECT_EQ(r.rows[2].file, dir.file("corpus/sub/c.txt.gz"));
    // The file that is not a document is named, not silently left out.
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].file, dir.file("corpus/notes.json"));
}

TEST(ReadRows, MalformedJsonLineIsReportedAndTheRestRead) {
    DataDir dir;
    auto path = dir.write("a.jsonl", "{\"text\": \"ok\"}\n{\"text\": tru}\n[1, 2]\n\"just a string\"\n{\"text\": \"ok again\"}\n");
    auto r = read_all(path);
    ASSERT_EQ(r.rows.size(), 2u);
    EXPECT_EQ(r.rows[1].line, 5);
    ASSERT_EQ(r.problems.size(), 3u);
    EXPECT_EQ(r.problems[0].file, path);
    EXPECT_EQ(r.problems[0].line, 2);
    EXPECT_NE(r.problems[0].message.find("not valid JSON at column"), std::string::npos) << r.problems[0].message;
    EXPECT_NE(r.problems[0].message.find("tru"), std::string::npos) << r.problems[0].message;  // the parser's own words
    EXPECT_EQ(r.problems[1].line, 3);
    EXPECT_NE(r.problems[1].message.find("expected a JSON object"), std::string::npos);
    EXPECT_NE(r.problems[1].message.find("array"), std::string::npos);
    EXPECT_EQ(r.problems[2].line, 4);
    EXPECT_EQ(r.problems[0].to_string().rfind(path + ":2: not valid JSON", 0), 0u) << r.problems[0].to_string();
}

TEST(ReadRows, InvalidUtf8IsReportedWithLineAndColumn) {
    DataDir dir;
    // A lone continuation byte, an overlong encoding of '/', a UTF-16 surrogate: all ill-formed.
    auto path = dir.write("a.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"bad \x80 byte\"}\n{\"text\": \"\xC0\xAF\"}\n{\"text\": \"\xED\xA0\x80\"}\n");
    auto r = read_all(path);
    ASSERT_EQ(r.rows.size(), 1u);
    ASSERT_EQ(r.problems.size(), 3u);
    EXPECT_EQ(r.problems[0].line, 2);
    EXPECT_NE(r.problems[0].message.find("invalid UTF-8 (byte 0x80 at column 15)"), std::string::npos) << r.problems[0].message;
    EXPECT_EQ(r.problems[1].line, 3);
    EXPECT_EQ(r.problems[2].line, 4);
    // In a multi-line JSON element, the line of the bad byte itself.
    r = read_all(dir.write("b.json", "[{\"text\": \"ok\"},\n {\"a\": 1,\n  \"text\": \"\xFF\"}]"));
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].line, 3);
    // In a CSV field: the field is named.
    r = read_all(dir.write("c.csv", "text,label\n\"caf\xE9\",1\n"));
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].line, 2);
    EXPECT_EQ(r.problems[0].field, "text");
    // A text document.
    r = read_all(dir.write("d.txt", "line one\nline \xFE two\n"));
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].line, 2);
}

TEST(ReadRows, BrokenJsonArrayStopsWithAProblemAtTheLine) {
    DataDir dir;
    auto r = read_all(dir.write("a.json", "[{\"text\": \"a\"},\n {\"text\": \"b\"}\n {\"text\": \"c\"}]"));
    ASSERT_EQ(r.rows.size(), 2u);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].line, 3);
    EXPECT_NE(r.problems[0].message.find("expected ',' or ']'"), std::string::npos) << r.problems[0].message;
    // A row inside the array that is not valid JSON is one Problem; the next rows are still read.
    r = read_all(dir.write("b.json", "[{\"text\": \"a\"},\n {\"text\": nope},\n {\"text\": \"c\"}]"));
    ASSERT_EQ(r.rows.size(), 2u);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].line, 2);
    r = read_all(dir.write("c.json", "[{\"text\": \"a\"},\n {\"text\": \"b\""));
    ASSERT_EQ(r.rows.size(), 1u);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_NE(r.problems[0].message.find("ends inside"), std::string::npos);
}

TEST(ReadRows, TruncatedAndCorruptCompressedFiles) {
    DataDir dir;
    std::string rows;
    // Enough rows for several zstd blocks (a block decodes only when whole).
    for (int i = 0; i < 40000; ++i) rows += "{\"text\": \"row " + std::to_string(i) + " with some words to make it longer\"}\n";
    for (std::string name : {"a.jsonl.gz", "a.jsonl.zst"}) {
        std::string path = name.ends_with(".gz") ? dir.write_gzip(name, rows) : dir.write_zstd(name, rows);
        std::string bytes;
        {
            std::ifstream in(path, std::ios::binary);
            bytes.assign(std::istreambuf_iterator<char>(in), {});
        }
        dir.write(name, bytes.substr(0, bytes.size() / 2));
        auto r = read_all(path);
        EXPECT_GT(r.rows.size(), 0u) << name;
        EXPECT_LT(r.rows.size(), 40000u) << name;
        ASSERT_FALSE(r.problems.empty()) << name;
        EXPECT_NE(r.problems.back().message.find("truncated"), std::string::npos) << r.problems.back().message;
        EXPECT_GT(r.problems.back().line, 1) << name;
    }
    auto r = read_all(dir.write("bad.jsonl.gz", "this is not gzip at all"));
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_NE(r.problems[0].message.find("corrupt gzip"), std::string::npos) << r.problems[0].message;
}

TEST(ReadRows, StreamsWithMemoryThatDoesNotGrowWithTheFile) {
    // A 117 MB JSONL file, written as .gz chunk by chunk so the test never holds it either. While the
    // rows arrive, the process's resident memory is sampled from the row callback: it must stay far
    // below the file's size.
    DataDir dir;
    const int n = 500000;
    std::string path = dir.file("big.jsonl.gz");
    gzFile f = gzopen(path.c_str(), "wb1");
    ASSERT_TRUE(f);
    std::string padding(220, 'x'), line;
    size_t file_bytes = 0;
    for (int i = 0; i < n; ++i) {
        line = "{\"i\": " + std::to_string(i) + ", \"text\": \"" + padding + "\"}\n";
        gzwrite(f, line.data(), static_cast<unsigned>(line.size()));
        file_bytes += line.size();
    }
    gzclose(f);
    ASSERT_GT(file_bytes, 110u << 20);
    size_t baseline = resident_bytes(), most = baseline;
    int64_t expected = 0;
    bool in_order = true;
    data::read_rows(
        path, {},
        [&](data::RawRow&& row) {
            in_order = in_order && row.value["i"] == expected && row.line == expected + 1;
            if (++expected % 10000 == 0) most = std::max(most, resident_bytes());
        },
        [&](data::Problem&& p) { ADD_FAILURE() << p.to_string(); });
    EXPECT_EQ(expected, n);
    EXPECT_TRUE(in_order);
    EXPECT_LT(most - baseline, 16u << 20) << "resident memory grew by " << (most - baseline) / (1 << 20) << " MB while reading";
}

TEST(ReadRows, UnknownFormatsAndParquetAreClearErrors) {
    DataDir dir;
    try {
        read_all(dir.write("a.xlsx", "x"));
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot tell the dataset format"), std::string::npos);
    }
    try {
        read_all(dir.write("a.parquet", "PAR1"));
        FAIL();
    } catch (const Error& e) {
#ifdef LATHE_HAS_PARQUET
        EXPECT_NE(std::string(e.what()).find("not a readable Parquet file"), std::string::npos) << e.what();
#else
        EXPECT_NE(std::string(e.what()).find("Parquet support not built"), std::string::npos);
#endif
    }
    EXPECT_THROW(read_all(dir.file("missing.jsonl")), Error);
    auto r = read_all(dir.write("a.data", "{\"text\": \"x\"}\n"), ReadOptions{.format = "jsonl", .json_field = ""});
    EXPECT_EQ(r.rows.size(), 1u);
}

}  // namespace
}  // namespace lathe
