// inspect_dataset without a tokenizer: counts, detected type, empty and missing fields, exact and near
// duplicates, problems (skipped and counted, or fatal with strict); and MinHash on its own.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "core/data/inspect.h"
#include "core/data/minhash.h"
#include "core/util/error.h"
#include "tests/data/data_test_util.h"
#include "tests/data/files_util.h"

namespace lathe {
namespace {

using test::DataDir;

// About 80 words of varied text, deterministic for `seed`.
std::string paragraph(int seed) {
    static const char* words[] = {"model", "data", "train", "token", "river", "stone", "light", "green", "quick", "table", "music", "north",
                                  "paper", "glass", "cloud", "sugar", "field", "horse", "metal", "ocean", "plant", "smile", "train", "voice"};
    std::string s;
    uint64_t x = static_cast<uint64_t>(seed) * 2654435761ULL + 12345;
    for (int i = 0; i < 80; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        s += std::string(words[(x >> 33) % 24]) + (i % 11 == 10 ? ". " : " ");
    }
    return s;
}

TEST(MinHash, SimilarTextsMatchAndDifferentOnesDoNot) {
    data::MinHashOptions options;
    std::string a = paragraph(1), b = a;
    b.replace(b.find("data") != std::string::npos ? b.find("data") : 0, 4, "dada");  // one word changed
    auto sa = data::minhash_signature(a, options), sb = data::minhash_signature(b, options), sc = data::minhash_signature(paragraph(2), options);
    EXPECT_GT(data::signature_similarity(sa, sb), 0.8);
    EXPECT_LT(data::signature_similarity(sa, sc), 0.3);
    EXPECT_EQ(data::signature_similarity(sa, data::minhash_signature("  " + a + "\n", options)), 1.0);  // whitespace and case do not count
    data::NearDuplicateFinder finder(options);
    EXPECT_EQ(finder.add(10, a).earlier, -1);
    EXPECT_EQ(finder.add(11, paragraph(2)).earlier, -1);
    auto m = finder.add(12, b);
    EXPECT_EQ(m.earlier, 10);
    EXPECT_GE(m.similarity, 0.8);
    EXPECT_TRUE(data::minhash_signature(" ... ", options).empty());
}

TEST(Inspect, CountsTypeFieldsDuplicatesAndProblems) {
    DataDir dir;
    std::string rows;
    for (int i = 0; i < 20; ++i)
        rows += nlohmann::json{{"instruction", "Question " + std::to_string(i) + ": " + paragraph(100 + i)}, {"input", i % 4 == 0 ? "" : "ctx"}, {"output", "answer"}}.dump() + "\n";
    rows += nlohmann::json{{"instruction", "Question 3: " + paragraph(103)}, {"input", "ctx"}, {"output", "answer"}}.dump() + "\n";  // exact copy of row 4
    std::string near = "Question 5: " + paragraph(105);
    near.replace(near.size() - 7, 6, "zebra.");
    rows += nlohmann::json{{"instruction", near}, {"input", "ctx"}, {"output", "answer"}}.dump() + "\n";  // near copy of row 6
    rows += "{\"instruction\": \"x\", \"output\": 5}\n";   // wrong type: line 23
    rows += "{\"instruction\": \"x\", oops}\n";            // malformed: line 24
    rows += "{\"instruction\": \"x\"}\n";                  // missing output: line 25
    std::string path = dir.write("train.jsonl", rows);
    data::InspectOptions options;
    auto report = data::inspect_dataset({path}, options, nullptr);
    EXPECT_EQ(report.type, data::RowType::alpaca);
    EXPECT_TRUE(report.type_detected);
    EXPECT_EQ(report.rows, 25);
    EXPECT_EQ(report.usable_rows, 22);
    EXPECT_EQ(report.problem_count, 3);
    ASSERT_EQ(report.problems.size(), 3u);
    std::set<int64_t> lines;
    for (const auto& p : report.problems) lines.insert(p.line);
    EXPECT_EQ(lines, (std::set<int64_t>{23, 24, 25}));
    EXPECT_EQ(report.exact_duplicates, 1);
    ASSERT_EQ(report.exact_duplicate_examples.size(), 1u);
    EXPECT_EQ(report.exact_duplicate_examples[0].row.line, 21);
    EXPECT_EQ(report.exact_duplicate_examples[0].of.line, 4);
    EXPECT_EQ(report.near_duplicates, 1);
    ASSERT_EQ(report.near_duplicate_examples.size(), 1u);
    EXPECT_EQ(report.near_duplicate_examples[0].row.line, 22);
    EXPECT_EQ(report.near_duplicate_examples[0].of.line, 6);
    // input: empty in rows 1, 5, 9, 13, 17; missing in the three bad rows that parsed (23, 25).
    bool saw_input = false;
    for (const auto& f : report.fields)
        if (f.name == "input") {
            saw_input = true;
            EXPECT_EQ(f.empty, 5);
            EXPECT_EQ(f.missing, 2);
        }
    EXPECT_TRUE(saw_input);

    auto json = data::inspect_report_json(report);
    EXPECT_EQ(json["rows"], 25);
    EXPECT_EQ(json["type"], "alpaca");
    EXPECT_EQ(json["problems"]["count"], 3);
    EXPECT_EQ(json["problems"]["listed"][0]["file"], path);
    EXPECT_EQ(json["near_duplicates"]["method"]["threshold"], 0.8);
    EXPECT_TRUE(json["tokens"].is_null());
    std::ostringstream text;
    data::print_inspect_report(report, text);
    EXPECT_NE(text.str().find(path + ":24: not valid JSON"), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("exact duplicates: 1"), std::string::npos) << text.str();

    options.strict = true;
    try {
        data::inspect_dataset({path}, options, nullptr);
        FAIL() << "strict did not stop";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path + ":23: output: expected a string"), std::string::npos) << e.what();
    }
}

TEST(Inspect, TypeGivenAndUndetectable) {
    DataDir dir;
    std::string path = dir.write("q.csv", "question,answer\nq1,a1\nq2,a2\n");
    auto report = data::inspect_dataset({path}, {}, nullptr);
    EXPECT_EQ(report.usable_rows, 0);
    EXPECT_EQ(report.problem_count, 2);
    EXPECT_NE(report.problems[0].message.find("cannot tell the row type"), std::string::npos);
    data::InspectOptions options;
    options.type = data::RowType::alpaca;
    options.mapping = {{"instruction", "question"}, {"output", "answer"}};
    report = data::inspect_dataset({path}, options, nullptr);
    EXPECT_EQ(report.usable_rows, 2);
    EXPECT_FALSE(report.type_detected);
    EXPECT_EQ(report.files[0].second, "csv");
}

TEST(Inspect, EveryBadRowIsCountedAndListedInFileOrder) {
    DataDir dir;
    std::string rows;
    for (int i = 0; i < 150; ++i) rows += i % 3 == 0 ? "{\"text\": \"row " + std::to_string(i) + "\"}\n" : "{broken\n";
    auto report = data::inspect_dataset({dir.write("bad.jsonl", rows)}, {}, nullptr);
    EXPECT_EQ(report.rows, 150);
    EXPECT_EQ(report.usable_rows, 50);
    EXPECT_EQ(report.problem_count, 100);
    ASSERT_EQ(report.problems.size(), 100u);
    for (size_t i = 1; i < report.problems.size(); ++i) EXPECT_LT(report.problems[i - 1].line, report.problems[i].line);
    data::InspectOptions few;
    few.problems_listed = 10;
    report = data::inspect_dataset({dir.file("bad.jsonl")}, few, nullptr);
    EXPECT_EQ(report.problem_count, 100);
    EXPECT_EQ(report.problems.size(), 10u);
    std::ostringstream text;
    data::print_inspect_report(report, text);
    EXPECT_NE(text.str().find("and 90 more, not listed"), std::string::npos) << text.str();
}

// With a tokenizer: token counts and trained tokens of chat and alpaca rows read from files equal what
// transformers computed for the same rows (the render references), and examples mark the same tokens.
TEST(Inspect, TokenLengthsMatchTransformers) {
    std::string refs = test::render_refs() + "/chatml";
    auto cases = test::read_json(refs + "/cases.json");
    TextTokenizer tokenizer = TextTokenizer::load(refs);
    for (std::string kind : {"chat", "alpaca"}) {
        DataDir dir;
        std::string rows;
        int64_t tokens = 0, trained = 0, longest = 0, over_40 = 0, count = 0;
        std::vector<std::string> texts;
        std::vector<int64_t> trained_per_row;
        for (const auto& c : cases) {
            if (c["kind"] != kind || !c["train_on_eos"].get<bool>()) continue;
            nlohmann::ordered_json row;
            if (kind == "chat") row["messages"] = c["messages"];
            else
                for (const char* key : {"instruction", "input", "output", "system"})
                    if (c.contains(key)) row[key] = c[key];
            rows += row.dump() + "\n";
            int64_t n = static_cast<int64_t>(c["input_ids"].size()), t = 0;
            for (const auto& label : c["labels"]) t += label != -100;
            tokens += n;
            trained += t;
            longest = std::max(longest, n);
            over_40 += n > 40;
            ++count;
            texts.push_back(c["text_rendered"]);
            trained_per_row.push_back(t);
        }
        ASSERT_GE(count, 3) << kind;
        data::InspectOptions options;
        options.max_length = 40;
        options.examples = 10;
        auto report = data::inspect_dataset({dir.write(kind + ".jsonl", rows)}, options, &tokenizer);
        ASSERT_EQ(report.problem_count, 0) << report.problems[0].to_string();
        EXPECT_EQ(report.type, kind == "chat" ? data::RowType::chat : data::RowType::alpaca);
        EXPECT_EQ(report.tokens, tokens) << kind;
        EXPECT_EQ(report.trained_tokens, trained) << kind;
        EXPECT_EQ(report.over_max_length, over_40) << kind;
        EXPECT_EQ(report.total_lengths.rows, count);
        EXPECT_EQ(report.total_lengths.counts.rbegin()->first, longest);
        ASSERT_EQ(report.examples.size(), static_cast<size_t>(count));
        for (size_t i = 0; i < report.examples.size(); ++i) {
            std::string all;
            for (const auto& span : report.examples[i].spans) all += span.text;
            EXPECT_EQ(all, texts[i]) << kind << " " << i;
            EXPECT_EQ(report.examples[i].trained_tokens, trained_per_row[i]) << kind << " " << i;
            EXPECT_TRUE(report.examples[i].spans.size() >= 2 && !report.examples[i].spans[0].trained) << kind << " " << i;
        }
        auto json = data::inspect_report_json(report);
        EXPECT_EQ(json["tokens"]["total"], tokens);
        EXPECT_EQ(json["tokens"]["lengths"]["max"], longest);
        int64_t in_bins = 0;
        for (const auto& bin : json["tokens"]["lengths"]["histogram"]) in_bins += bin["count"].get<int64_t>();
        EXPECT_EQ(in_bins, count);
    }
}

TEST(LengthStats, PercentilesAndHistogram) {
    data::LengthStats s;
    for (int64_t v = 1; v <= 100; ++v) s.add(v);
    EXPECT_EQ(s.percentile(0.5), 50);
    EXPECT_EQ(s.percentile(0.9), 90);
    EXPECT_EQ(s.percentile(1.0), 100);
    auto bins = s.histogram(16);
    ASSERT_FALSE(bins.empty());
    EXPECT_LE(bins.size(), 16u);
    int64_t total = 0;
    for (const auto& b : bins) {
        EXPECT_EQ(b.to - b.from, bins[0].to - bins[0].from);
        total += b.count;
    }
    EXPECT_EQ(total, 100);
    EXPECT_LE(bins.front().from, 1);
    EXPECT_GT(bins.back().to, 100);
}

}  // namespace
}  // namespace lathe
