// Rendering rows into tokens and labels, compared with what transformers produces (references made by
// tests/interop/make_render_references.py), and the problems a row can have.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/data/render.h"
#include "tests/data/render_cases.h"
#include "tests/data/data_test_util.h"

namespace fs = std::filesystem;
using lathe::TextTokenizer;
using namespace lathe::data;

namespace {

RenderedRow ok(const std::variant<RenderedRow, Problem>& r) {
    if (auto* p = std::get_if<Problem>(&r)) ADD_FAILURE() << "unexpected problem: " << p->field << ": " << p->message;
    return std::holds_alternative<RenderedRow>(r) ? std::get<RenderedRow>(r) : RenderedRow{};
}

Problem problem(const std::variant<RenderedRow, Problem>& r) {
    if (!std::holds_alternative<Problem>(r)) {
        ADD_FAILURE() << "expected a problem";
        return {};
    }
    return std::get<Problem>(r);
}

Sample chat(std::vector<std::pair<std::string, std::string>> turns) {
    Sample s;
    s.type = RowType::chat;
    s.file = "chat.jsonl";
    s.line = 7;
    for (auto& [role, content] : turns) s.messages.push_back({role, content, nlohmann::ordered_json::object()});
    return s;
}

}  // namespace

// Every case of every template: the same text, ids and labels as transformers (assistant masks from
// {% generation %} blocks, char_to_token for prompt formats).
TEST(RenderInterop, MatchesTransformers) {
    std::string refs = lathe::test::render_refs();
    for (const char* name : {"chatml", "llama3", "gemma"}) {
        SCOPED_TRACE(name);
        TextTokenizer tok = TextTokenizer::load(refs + "/" + name);
        auto cases = lathe::test::read_json(refs + "/" + name + "/cases.json");
        ASSERT_GT(cases.size(), 10u);
        if (std::string(name) == "chatml")
            for (const auto& c : lathe::test::read_json(refs + "/chatml/roles_cases.json")) cases.push_back(c);
        for (const auto& c : cases) {
            SCOPED_TRACE(c["case"].get<std::string>());
            RenderOptions o;
            o.train_on_eos = c["train_on_eos"];
            if (c.contains("prompt_template")) o.prompt_template = c["prompt_template"];
            if (c.contains("roles_to_train")) o.roles_to_train = c["roles_to_train"].get<std::vector<std::string>>();
            RenderedRow row = ok(render_sample(lathe::test::sample_from_render_case(c), tok, o));
            EXPECT_EQ(row.text, c["text_rendered"].get<std::string>());
            EXPECT_EQ(row.input_ids, c["input_ids"].get<std::vector<int64_t>>());
            EXPECT_EQ(row.labels, c["labels"].get<std::vector<int64_t>>());
            EXPECT_EQ(row.untruncated_length, static_cast<int64_t>(row.input_ids.size()));
        }
    }
}

// The fixture's own ChatML rendering and ids (made by transformers).
TEST(Render, ChatFixtureIds) {
    std::string dir = lathe::test::fixtures() + "/hf/tokenizers/bytelevel-regex-qwen-hf";
    TextTokenizer tok = TextTokenizer::load(dir);
    auto ref = lathe::test::read_json(dir + "/chat_reference.json");
    Sample s = lathe::test::sample_from_render_case({{"kind", "chat"}, {"messages", ref["messages"]}});
    RenderedRow row = ok(render_sample(s, tok, {}));
    EXPECT_EQ(row.text, ref["rendered"].get<std::string>());
    EXPECT_EQ(row.input_ids, ref["ids"].get<std::vector<int64_t>>());
    EXPECT_EQ(row.field_tokens.at("system") + row.field_tokens.at("user") + row.field_tokens.at("assistant"),
              static_cast<int64_t>(row.input_ids.size()));
}

TEST(Render, TrainOnInputsTrainsEveryToken) {
    std::string refs = lathe::test::render_refs();
    TextTokenizer tok = TextTokenizer::load(refs + "/chatml");
    auto c = lathe::test::read_json(refs + "/chatml/cases.json")[2];  // chat1, two assistant turns
    RenderOptions o;
    o.train_on_inputs = true;
    RenderedRow row = ok(render_sample(lathe::test::sample_from_render_case(c), tok, o));
    EXPECT_EQ(row.input_ids, c["input_ids"].get<std::vector<int64_t>>());
    EXPECT_EQ(row.labels, row.input_ids);
}

TEST(Render, Truncation) {
    std::string refs = lathe::test::render_refs();
    TextTokenizer tok = TextTokenizer::load(refs + "/chatml");
    auto cases = lathe::test::read_json(refs + "/chatml/cases.json");
    nlohmann::ordered_json text_case;
    for (const auto& c : cases)
        if (c["case"] == "text0") text_case = c;
    auto ids = text_case["input_ids"].get<std::vector<int64_t>>();
    ASSERT_GT(ids.size(), 6u);
    RenderOptions o;
    o.max_length = 5;
    o.truncation = Truncation::right;
    RenderedRow right = ok(render_sample(lathe::test::sample_from_render_case(text_case), tok, o));
    EXPECT_EQ(right.input_ids, std::vector<int64_t>(ids.begin(), ids.begin() + 5));
    EXPECT_EQ(right.untruncated_length, static_cast<int64_t>(ids.size()));
    o.truncation = Truncation::left;
    RenderedRow left = ok(render_sample(lathe::test::sample_from_render_case(text_case), tok, o));
    EXPECT_EQ(left.input_ids, std::vector<int64_t>(ids.end() - 5, ids.end()));
    EXPECT_EQ(left.labels, left.input_ids);
    o.truncation = Truncation::drop;
    Problem p = problem(render_sample(lathe::test::sample_from_render_case(text_case), tok, o));
    EXPECT_NE(p.message.find("max_length 5"), std::string::npos) << p.message;

    // A chat cut before its reply has nothing left to train on.
    o.truncation = Truncation::right;
    Problem cut = problem(render_sample(lathe::test::sample_from_render_case(cases[0]), tok, o));
    EXPECT_NE(cut.message.find("no trained tokens left"), std::string::npos) << cut.message;
}

TEST(Render, EosNotDoubled) {
    TextTokenizer tok = TextTokenizer::load(lathe::test::render_refs() + "/chatml");
    Sample s;
    s.type = RowType::text;
    s.text = "ends with its own EOS<|im_end|>";
    RenderedRow row = ok(render_sample(s, tok, {}));
    ASSERT_GE(row.input_ids.size(), 2u);
    EXPECT_EQ(row.input_ids.back(), *tok.eos_id());
    EXPECT_NE(row.input_ids[row.input_ids.size() - 2], *tok.eos_id());
}

TEST(Render, Pretokenized) {
    TextTokenizer tok = TextTokenizer::load(lathe::test::render_refs() + "/chatml");
    Sample s;
    s.type = RowType::pretokenized;
    s.input_ids = {5, 6, 7, 8};
    EXPECT_EQ(ok(render_sample(s, tok, {})).labels, s.input_ids);
    s.labels = {-100, -100, 7, 8};
    EXPECT_EQ(ok(render_sample(s, tok, {})).labels, s.labels);
    s.attention_mask = {1, 1, 1, 0};
    EXPECT_EQ(ok(render_sample(s, tok, {})).labels, (std::vector<int64_t>{-100, -100, 7, -100}));
    s.labels = {1, 2};
    EXPECT_EQ(problem(render_sample(s, tok, {})).field, "labels");
}

TEST(Render, Problems) {
    TextTokenizer tok = TextTokenizer::load(lathe::test::render_refs() + "/llama3");
    Problem empty = problem(render_sample(chat({}), tok, {}));
    EXPECT_EQ(empty.file, "chat.jsonl");
    EXPECT_EQ(empty.line, 7);
    EXPECT_EQ(empty.message, "empty conversation");
    // llama-3-instruct raises on roles that do not alternate: the template's own message is reported.
    Problem raised = problem(render_sample(chat({{"user", "a"}, {"user", "b"}, {"assistant", "c"}}), tok, {}));
    EXPECT_NE(raised.message.find("Conversation roles must alternate"), std::string::npos) << raised.message;
    // No assistant turn: nothing to train on.
    Problem untrained = problem(render_sample(chat({{"user", "a"}}), tok, {}));
    EXPECT_EQ(untrained.message, "no tokens to train on");
    RenderOptions o;
    o.prompt_template = "vicuna";
    Sample pc;
    pc.type = RowType::prompt_completion;
    pc.prompt = "a";
    pc.completion = "b";
    EXPECT_NE(problem(render_sample(pc, tok, o)).message.find("unknown prompt template 'vicuna'"), std::string::npos);
}

// A template that drops earlier replies' reasoning once a later turn follows (as Qwen3's does) breaks
// the prefix property: the row is reported, not guessed at.
TEST(Render, TemplateRewritingEarlierTurnsIsAProblem) {
    lathe::test::TempDir dir;
    fs::copy_file(lathe::test::render_refs() + "/chatml/tokenizer.json", dir.path / "tokenizer.json");
    std::ofstream(dir.path / "tokenizer_config.json") << nlohmann::json{
        {"eos_token", "<|im_end|>"},
        {"chat_template",
         "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' and not loop.last %}{{ m.content.split('</think>')[-1] }}"
         "{% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"}}
                                                                 .dump();
    TextTokenizer tok = TextTokenizer::load(dir.str());
    Sample s = chat({{"user", "q1"}, {"assistant", "<think>hm</think>a1"}, {"user", "q2"}, {"assistant", "<think>x</think>a2"}});
    Problem p = problem(render_sample(s, tok, {}));
    EXPECT_EQ(p.field, "messages[1]");
    EXPECT_NE(p.message.find("rewrites earlier turns"), std::string::npos) << p.message;
    // Its last turn alone is sound: a single exchange renders.
    Sample one = chat({{"user", "q2"}, {"assistant", "<think>x</think>a2"}});
    RenderedRow row = ok(render_sample(one, tok, {}));
    EXPECT_EQ(row.field_tokens.at("assistant") > 0, true);
}
