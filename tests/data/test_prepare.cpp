// A config's dataset entry made ready for training: rows from a file rendered as transformers does
// (labels from tests/interop/make_render_references.py), kept in the cache and reused until the file,
// the tokenizer or a setting changes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/data/prepare.h"
#include "tests/data/data_test_util.h"
#include "core/util/error.h"

namespace fs = std::filesystem;
using namespace lathe::data;
using lathe::DatasetSpec;

namespace {

struct Prepared {
    lathe::test::TempDir tmp;
    std::string tokenizer, data;
    nlohmann::ordered_json cases = nlohmann::ordered_json::array();
    Prepared() {
        tokenizer = (tmp.path / "tok").string();
        fs::copy(lathe::test::render_refs() + "/chatml", tokenizer);
        data = (tmp.path / "chat.jsonl").string();
        std::ofstream out(data);
        for (const auto& c : lathe::test::read_json(tokenizer + "/cases.json"))
            if (c["kind"] == "chat" && c["train_on_eos"].get<bool>()) {
                out << nlohmann::ordered_json{{"messages", c["messages"]}}.dump() << "\n";
                cases.push_back(c);
            }
        out << "{\"messages\": [{\"role\": \"robot\", \"content\": \"beep\"}]}\n";  // unknown role: skipped
    }
    PrepareOptions options() const {
        PrepareOptions o;
        o.tokenizer_dir = tokenizer;
        o.sequence_len = 4096;
        o.cache_dir = (tmp.path / "cache").string();
        return o;
    }
};

}  // namespace

TEST(Prepare, ChatFileRenderedLikeTransformersAndCached) {
    Prepared p;
    DatasetSpec spec;
    spec.path = p.data;
    spec.type = "chat_template";
    PreparedDataset first = prepare_dataset(spec, p.options());
    EXPECT_FALSE(first.reused);
    ASSERT_EQ(first.rows->size(), p.cases.size());
    for (size_t i = 0; i < p.cases.size(); ++i) {
        auto ids = first.rows->input_ids(i), labels = first.rows->labels(i);
        EXPECT_EQ(std::vector<int64_t>(ids.begin(), ids.end()), p.cases[i]["input_ids"].get<std::vector<int64_t>>());
        EXPECT_EQ(std::vector<int64_t>(labels.begin(), labels.end()), p.cases[i]["labels"].get<std::vector<int64_t>>());
    }
    EXPECT_EQ(first.skipped, 1);
    EXPECT_EQ(first.rows->problems().at(0).line, static_cast<int64_t>(p.cases.size()) + 1);
    EXPECT_EQ(first.fingerprint["skipped"], 1);

    EXPECT_TRUE(prepare_dataset(spec, p.options()).reused);
    spec.type = "";  // detected: the same rows, but another setting, so another cache file
    EXPECT_FALSE(prepare_dataset(spec, p.options()).reused);
    PrepareOptions shorter = p.options();
    shorter.sequence_len = 2048;
    EXPECT_FALSE(prepare_dataset(spec, shorter).reused);
    {  // the same rendering from other bytes: the key follows the files, not what they render
        std::string tmpl = lathe::test::read_text(p.tokenizer + "/chat_template.jinja");
        std::ofstream(p.tokenizer + "/chat_template.jinja") << "{# edited #}" << tmpl;
    }
    EXPECT_FALSE(prepare_dataset(spec, p.options()).reused);
    EXPECT_TRUE(prepare_dataset(spec, p.options()).reused);

    PrepareOptions strict = p.options();
    strict.strict = true;
    try {
        prepare_dataset(spec, strict);  // from the cache, which remembers the bad row
        ADD_FAILURE() << "strict accepted a bad row";
    } catch (const lathe::Error& e) {
        EXPECT_NE(std::string(e.what()).find("chat.jsonl:" + std::to_string(p.cases.size() + 1)), std::string::npos) << e.what();
    }
}

// Rows of every kind in one file, their types detected from their fields (Alpaca, prompt/completion,
// text), and a completion file whose text is in another column: as transformers tokenizes them.
TEST(Prepare, DetectedRowKindsAndCompletionField) {
    Prepared p;
    auto cases = lathe::test::read_json(p.tokenizer + "/cases.json");
    std::string mixed = (p.tmp.path / "mixed.jsonl").string(), bodies = (p.tmp.path / "bodies.jsonl").string();
    std::ofstream out(mixed), body(bodies);
    std::vector<nlohmann::ordered_json> expected, expected_bodies;
    for (const auto& c : cases) {
        std::string kind = c["kind"];
        if (kind == "alpaca") {
            nlohmann::ordered_json row = {{"instruction", c["instruction"]}, {"input", c["input"]}, {"output", c["output"]}};
            if (c.contains("system")) row["system"] = c["system"];
            out << row.dump() << "\n";
        } else if (kind == "prompt_completion") {
            out << nlohmann::ordered_json{{"prompt", c["prompt"]}, {"completion", c["completion"]}}.dump() << "\n";
        } else if (kind == "text") {
            out << nlohmann::ordered_json{{"text", c["text"]}}.dump() << "\n";
            body << nlohmann::ordered_json{{"body", c["text"]}}.dump() << "\n";
            expected_bodies.push_back(c);
        } else {
            continue;
        }
        expected.push_back(c);
    }
    out.close();
    body.close();
    auto check = [](const PreparedDataset& d, const std::vector<nlohmann::ordered_json>& want) {
        ASSERT_EQ(d.rows->size(), want.size());
        EXPECT_EQ(d.skipped, 0);
        for (size_t i = 0; i < want.size(); ++i) {
            SCOPED_TRACE(want[i]["case"].get<std::string>());
            auto ids = d.rows->input_ids(i), labels = d.rows->labels(i);
            EXPECT_EQ(std::vector<int64_t>(ids.begin(), ids.end()), want[i]["input_ids"].get<std::vector<int64_t>>());
            EXPECT_EQ(std::vector<int64_t>(labels.begin(), labels.end()), want[i]["labels"].get<std::vector<int64_t>>());
        }
    };
    DatasetSpec spec;
    spec.path = mixed;
    check(prepare_dataset(spec, p.options()), expected);
    spec.path = bodies;
    spec.type = "completion";
    spec.field = "body";
    check(prepare_dataset(spec, p.options()), expected_bodies);
}
