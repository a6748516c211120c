// `lathe data inspect` end to end: text for people, JSON for tools, --strict's exit status.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "tests/fixtures.h"

namespace lathe {
namespace {

struct CliRun {
    int code;
    std::string out;  // stdout only
};

CliRun run_lathe(const std::string& args, const std::string& stderr_file) {
    std::string cmd = std::string(LATHE_CLI) + " " + args + " 2>" + stderr_file;
    FILE* pipe = popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
    int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

const char* kRows =
    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi there\"}, {\"role\": \"assistant\", \"content\": \"Hello! How can I help?\"}]}\n"
    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi there\"}, {\"role\": \"assistant\", \"content\": \"Hello! How can I help?\"}]}\n"
    "{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}\n"
    "{\"messages\": []}\n"
    "not json\n";

TEST(DataCli, InspectTextAndJson) {
    test::TempDir dir;
    std::string data = dir.str() + "/chat.jsonl", err = dir.str() + "/err.txt";
    std::ofstream(data) << kRows;
    CliRun r = run_lathe("data inspect " + data, err);
    ASSERT_EQ(r.code, 0) << r.out << slurp(err);
    EXPECT_NE(r.out.find("rows: 5, usable: 2, with problems: 3"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("type: chat (detected)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(data + ":3: messages[0].role: unknown role 'bot'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(data + ":4: messages: empty conversation"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(data + ":5: not valid JSON"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(data + ":2 repeats " + data + ":1"), std::string::npos) << r.out;

    r = run_lathe("data inspect --json " + data, err);
    ASSERT_EQ(r.code, 0) << slurp(err);
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["rows"], 5);
    EXPECT_EQ(j["usable_rows"], 2);
    EXPECT_EQ(j["type"], "chat");
    EXPECT_EQ(j["problems"]["count"], 3);
    EXPECT_EQ(j["problems"]["listed"][0]["line"], 3);
    EXPECT_EQ(j["problems"]["listed"][0]["field"], "messages[0].role");
    EXPECT_EQ(j["exact_duplicates"]["count"], 1);
    EXPECT_TRUE(j["tokens"].is_null());
}

TEST(DataCli, StrictStopsAtTheFirstProblem) {
    test::TempDir dir;
    std::string data = dir.str() + "/chat.jsonl", err = dir.str() + "/err.txt";
    std::ofstream(data) << kRows;
    CliRun r = run_lathe("data inspect --strict " + data, err);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(slurp(err).find(data + ":3: messages[0].role: unknown role 'bot'"), std::string::npos) << slurp(err);
    r = run_lathe("data inspect --type nonsense " + data, err);
    EXPECT_EQ(r.code, 1);
    r = run_lathe("data inspect " + dir.str() + "/missing.jsonl", err);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(slurp(err).find("missing.jsonl"), std::string::npos);
}

TEST(DataCli, InspectWithModelMarksUntrainedText) {
    const char* refs = std::getenv("LATHE_INTEROP_REFS");
    std::string model = std::string(refs ? refs : "") + "/render/chatml";
    if (!std::filesystem::exists(model + "/tokenizer.json")) GTEST_FAIL() << "no render references at " << model << " (ctest makes them first)";
    test::TempDir dir;
    std::string data = dir.str() + "/chat.jsonl", err = dir.str() + "/err.txt";
    std::ofstream(data) << kRows;
    CliRun r = run_lathe("data inspect --json --examples 1 --max-length 20 --model " + model + " " + data, err);
    ASSERT_EQ(r.code, 0) << slurp(err);
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["tokens"]["lengths"]["rows"], 2);
    EXPECT_EQ(j["tokens"]["over_max_length"], 2);
    ASSERT_EQ(j["examples"].size(), 1u);
    std::string trained;
    for (const auto& span : j["examples"][0]["spans"])
        if (span["trained"]) trained += span["text"].get<std::string>();
    EXPECT_EQ(trained, "Hello! How can I help?<|im_end|>");
    r = run_lathe("data inspect --examples 1 --model " + model + " " + data, err);
    EXPECT_NE(r.out.find("\u27e6<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n\u27e7Hello! How can I help?<|im_end|>"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace lathe
