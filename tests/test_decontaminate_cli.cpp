// `lathe data decontaminate` end to end: training files of several formats against eval files and task
// YAMLs, the report, --write-clean's rows, errors naming file and line; and (interop) the n-grams equal
// to lm-evaluation-harness's own janitor's.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "core/data/decontaminate.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

using Json = nlohmann::ordered_json;

struct CliRun {
    int code;
    std::string out;  // stdout only
};

CliRun run_command(const std::string& cmd, const std::string& stderr_file) {
    FILE* pipe = popen((cmd + " 2>" + stderr_file).c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
    int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

CliRun run_lathe(const std::string& args, const std::string& stderr_file) { return run_command(std::string(LATHE_CLI) + " " + args, stderr_file); }

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<Json> json_lines(const std::string& text) {
    std::vector<Json> rows;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) rows.push_back(Json::parse(text.substr(start, end - start)));
        start = end + 1;
    }
    return rows;
}

const std::string kItem1 = "The mitochondria is the powerhouse of the cell, converting nutrients into usable chemical energy for the body.";
const std::string kItem2 = "Which river flows through the capital of Hungary and empties into the Black Sea after crossing ten countries?";

TEST(DecontaminateCli, ReportsRowsOfEveryFormatAndWritesTheCleanOnes) {
    test::TempDir dir;
    const std::string d = dir.str(), err = d + "/err.txt";
    std::ofstream(d + "/eval.jsonl") << Json{{"question", kItem1}, {"answer", 2}}.dump() << "\n"
                                     << Json{{"question", kItem2}, {"choices", {"Danube", "Rhine"}}}.dump() << "\n"
                                     << Json{{"question", "Too short to match."}}.dump() << "\n";
    // CSV: row 2 (line 3, a quoted field over two lines) holds item 1 with its case and punctuation changed.
    std::ofstream(d + "/train.csv") << "instruction,output\n"
                                    << "Say hello,Hello there\n"
                                    << "\"Explain, please\",\"THE MITOCHONDRIA is the powerhouse of the cell -- converting\n"
                                       "nutrients into usable chemical energy...\"\n"
                                    << "Count,\"one two three\"\n";
    // JSON array of chat rows: the second holds item 2 verbatim.
    Json chat = Json::array();
    chat.push_back({{"messages", {{{"role", "user"}, {"content", "Hi"}}, {{"role", "assistant"}, {"content", "Hello!"}}}}});
    chat.push_back({{"messages", {{{"role", "user"}, {"content", kItem2}}, {{"role", "assistant"}, {"content", "The Danube."}}}}});
    chat.push_back({{"messages", {{{"role", "user"}, {"content", "Thanks"}}, {{"role", "assistant"}, {"content", "You are welcome."}}}}});
    std::ofstream(d + "/train.json") << chat.dump(2);

    CliRun r = run_lathe("data decontaminate " + d + "/train.csv " + d + "/train.json --against " + d + "/eval.jsonl --ngram 8", err);
    ASSERT_EQ(r.code, 0) << slurp(err);
    EXPECT_NE(r.out.find(d + "/train.csv:3: contains " + d + "/eval.jsonl:1 \"The mitochondria is the powerhouse"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("longest overlap 14 words: \"the mitochondria is the powerhouse of the cell converting nutrients into usable chemical energy\""),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("train.json:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("rows: 6, contaminated: 2 (33.33%)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("eval items: 3, found in the training data: 2; 1 shorter than 8 words cannot be matched"), std::string::npos) << r.out;

    r = run_lathe("data decontaminate " + d + "/train.csv " + d + "/train.json --against " + d + "/eval.jsonl --ngram 8 --json --write-clean " + d +
                      "/clean.jsonl",
                  err);
    ASSERT_EQ(r.code, 0) << slurp(err);
    auto events = json_lines(r.out);
    ASSERT_EQ(events.size(), 3u) << r.out;
    EXPECT_EQ(events[0]["event"], "contaminated");
    EXPECT_EQ(events[0]["file"], d + "/train.csv");
    EXPECT_EQ(events[0]["line"], 3);
    EXPECT_EQ(events[0]["hits"][0]["eval_line"], 1);
    EXPECT_EQ(events[0]["hits"][0]["eval_item"], kItem1);
    EXPECT_EQ(events[0]["hits"][0]["matched_ngrams"], 7);
    EXPECT_EQ(events[0]["hits"][0]["eval_ngrams"], 10);
    EXPECT_EQ(events[1]["file"], d + "/train.json");
    EXPECT_EQ(events[1]["hits"][0]["eval_location"], d + "/eval.jsonl:2");
    EXPECT_EQ(events[1]["hits"][0]["overlap_words"], 18);
    EXPECT_EQ(events[2]["event"], "result");
    EXPECT_EQ(events[2]["rows"], 6);
    EXPECT_EQ(events[2]["contaminated_rows"], 2);
    EXPECT_EQ(events[2]["clean_rows"], 4);
    EXPECT_EQ(events[2]["eval_items_too_short"], 1);

    // Exactly the clean rows, in order, as the readers gave them.
    auto clean = json_lines(slurp(d + "/clean.jsonl"));
    ASSERT_EQ(clean.size(), 4u);
    EXPECT_EQ(clean[0], Json({{"instruction", "Say hello"}, {"output", "Hello there"}}));
    EXPECT_EQ(clean[1], Json({{"instruction", "Count"}, {"output", "one two three"}}));
    EXPECT_EQ(clean[2], chat[0]);
    EXPECT_EQ(clean[3], chat[2]);
    // And the clean file is clean.
    r = run_lathe("data decontaminate " + d + "/clean.jsonl --against " + d + "/eval.jsonl --ngram 8 --json", err);
    ASSERT_EQ(r.code, 0) << slurp(err);
    EXPECT_EQ(json_lines(r.out).back()["contaminated_rows"], 0);
}

// JSON Lines rows are written back as they were (spacing, escapes and key order kept), not re-serialised.
TEST(DecontaminateCli, CleanJsonLinesRowsAreCopiedByteForByte) {
    test::TempDir dir;
    const std::string d = dir.str(), err = d + "/err.txt";
    std::ofstream(d + "/eval.jsonl") << Json{{"question", kItem1}}.dump() << "\n";
    const std::string kept1 = "{ \"text\" : \"caf\\u00e9 au lait\",  \"n\": 1.50 }", kept2 = "{\"z\": \"last key first\", \"a\": [1, 2]}";
    std::ofstream(d + "/train.jsonl") << kept1 << "\r\n\n" << Json{{"text", "Note: " + kItem1}}.dump() << "\n" << kept2 << "\n";
    CliRun r = run_lathe("data decontaminate " + d + "/train.jsonl --against " + d + "/eval.jsonl --write-clean " + d + "/clean.jsonl", err);
    ASSERT_EQ(r.code, 0) << slurp(err);
    EXPECT_NE(r.out.find(d + "/train.jsonl:3: contains"), std::string::npos) << r.out;
    EXPECT_EQ(slurp(d + "/clean.jsonl"), kept1 + "\n" + kept2 + "\n");
}

TEST(DecontaminateCli, TaskYamlEvalItemsAreTheirPrompts) {
    test::TempDir dir;
    const std::string d = dir.str(), err = d + "/err.txt";
    std::ofstream(d + "/docs.jsonl") << Json{{"question", "What is two plus two?"}, {"choices", {"3", "4"}}, {"label", 1}}.dump() << "\n"
                                     << Json{{"question", kItem2}, {"choices", {"Danube", "Rhine"}}, {"label", 0}}.dump() << "\n";
    std::ofstream(d + "/task.yaml") << "task: rivers\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: " << d
                                    << "/docs.jsonl\ntest_split: test\noutput_type: multiple_choice\n"
                                       "doc_to_text: \"Question: {{question}}\\nAnswer:\"\ndoc_to_target: label\ndoc_to_choice: choices\n";
    std::ofstream(d + "/train.jsonl") << Json{{"text", "Quiz. Question: " + kItem2 + " Answer: the Danube"}}.dump() << "\n"
                                      << Json{{"text", "Nothing to see here, just a sentence about rivers and seas."}}.dump() << "\n";
    CliRun r = run_lathe("data decontaminate " + d + "/train.jsonl --against " + d + "/task.yaml --json", err);
    ASSERT_EQ(r.code, 0) << slurp(err);
    auto events = json_lines(r.out);
    ASSERT_EQ(events.size(), 2u) << r.out;
    EXPECT_EQ(events[0]["line"], 1);
    EXPECT_EQ(events[0]["hits"][0]["eval_location"], d + "/task.yaml: test doc 1");
    EXPECT_EQ(events[0]["hits"][0]["eval_item"], "Question: " + kItem2 + "\nAnswer:");
    EXPECT_EQ(events[0]["hits"][0]["overlap_words"], 20);  // "question" .. "sea" .. "answer": the prompt's every word
    EXPECT_EQ(events[1]["eval_items"], 2);
}

TEST(DecontaminateCli, BadInputNamesFileAndLine) {
    test::TempDir dir;
    const std::string d = dir.str(), err = d + "/err.txt";
    std::ofstream(d + "/eval.jsonl") << Json{{"question", kItem1}}.dump() << "\n";
    std::ofstream(d + "/train.jsonl") << Json{{"text", "fine"}}.dump() << "\n" << "{\"text\": \"unterminated}\n";
    CliRun r = run_lathe("data decontaminate " + d + "/train.jsonl --against " + d + "/eval.jsonl --write-clean " + d + "/clean.jsonl", err);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(slurp(err).find(d + "/train.jsonl:2: not valid JSON"), std::string::npos) << slurp(err);
    EXPECT_NE(slurp(err).find("fix or remove it"), std::string::npos) << slurp(err);
    EXPECT_FALSE(std::filesystem::exists(d + "/clean.jsonl"));  // nothing half-written

    std::ofstream(d + "/bad_eval.jsonl") << Json{{"question", kItem1}}.dump() << "\n\n[1, 2]\n";
    r = run_lathe("data decontaminate " + d + "/eval.jsonl --against " + d + "/bad_eval.jsonl", err);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(slurp(err).find(d + "/bad_eval.jsonl:3:"), std::string::npos) << slurp(err);

    r = run_lathe("data decontaminate " + d + "/eval.jsonl --against " + d + "/eval.jsonl --write-clean " + d + "/clean.csv", err);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(slurp(err).find("name a .jsonl file"), std::string::npos) << slurp(err);
    r = run_lathe("data decontaminate " + d + "/missing.jsonl --against " + d + "/eval.jsonl", err);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(slurp(err).find("missing.jsonl"), std::string::npos) << slurp(err);
    r = run_lathe("data decontaminate " + d + "/eval.jsonl --against " + d + "/eval.jsonl --ngram 0", err);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(slurp(err).find("--ngram"), std::string::npos) << slurp(err);
}

// The n-grams of awkward texts (Unicode letters and spaces, punctuation inside words, runs of
// separators) equal those the harness's janitor makes (.venv-interop's lm-eval).
TEST(DecontaminateInterop, NgramsEqualTheHarnessJanitors) {
    test::TempDir dir;
    const std::string d = dir.str();
    std::vector<std::string> texts = {
        "  Hello,  WORLD!\tIt's a--b ... x",
        "ÄPFEL Straße \u00c9t\u00c9 na\u00efve CAF\u00c9 -- (done) [ok] {x} <y> ~z~ `q` ^w^ |e| @r #t $y %u &i *o +p =a _s \\d /f",
        "a\u00a0b\u2003c\u3000d\u0085e\u2028f\x1cg\x1fh\u200bi\u2029j\u202fk\u205fl\u1680m\u2000n\u200ao\v p\fq\rr",
        "\u00e2\u0080\u0099quoted\u00e2 \u201csmart\u201d quotes \u2014 dashes \u2013 and \u2026 ellipses keep their bytes",
        "Numbers 3.14159, 1,000,000 and 2+2=4; e-mail me@example.com, URL https://x.y/z?q=1#frag.",
        "\u4e2d\u6587\u3001\u65e5\u672c\u8a9e\u3002 \u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0422\u0415\u041a\u0421\u0422 emoji \U0001F600 \U0001F44D\U0001F3FD end",
    };
    for (int n : {1, 3}) {
        std::ofstream(d + "/req.json") << Json{{"n", n}, {"texts", texts}}.dump();
        CliRun r = run_command(std::string(LATHE_SOURCE_DIR) + "/.venv-interop/bin/python " + LATHE_SOURCE_DIR + "/tests/interop/lm_eval_janitor.py " + d +
                                   "/req.json",
                               d + "/py_err.txt");
        ASSERT_EQ(r.code, 0) << slurp(d + "/py_err.txt");
        Json expected = Json::parse(r.out);
        ASSERT_EQ(expected.size(), texts.size());
        for (size_t i = 0; i < texts.size(); ++i) {
            std::string buffer;
            std::vector<std::string_view> words;
            data::normalized_words(texts[i], buffer, words);
            std::vector<std::string> ours;
            for (size_t k = 0; k + n <= words.size(); ++k) {
                std::string g;
                for (int j = 0; j < n; ++j) g += (j ? " " : "") + std::string(words[k + j]);
                ours.push_back(g);
            }
            EXPECT_EQ(Json(ours), expected[i]) << "text " << i << ", n = " << n;
        }
    }
}

}  // namespace
}  // namespace lathe
