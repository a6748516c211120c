// Row types: detection from the fields, the column mapping, and every field fault named.
#include <gtest/gtest.h>

#include "core/data/samples.h"

namespace lathe {
namespace {

using data::RowType;
using Json = nlohmann::ordered_json;

data::RawRow row(const std::string& json) { return data::RawRow{"rows.jsonl", 7, Json::parse(json)}; }

data::Sample sample(const std::string& json, RowType type, const data::ColumnMapping& mapping = {}) {
    auto s = data::to_sample(row(json), type, mapping);
    if (auto* p = std::get_if<data::Problem>(&s)) ADD_FAILURE() << p->to_string();
    return std::get<data::Sample>(s);
}

data::Problem problem(const std::string& json, RowType type, const data::ColumnMapping& mapping = {}) {
    auto s = data::to_sample(row(json), type, mapping);
    if (!std::holds_alternative<data::Problem>(s)) {
        ADD_FAILURE() << "no problem for " << json;
        return {};
    }
    auto p = std::get<data::Problem>(s);
    EXPECT_EQ(p.file, "rows.jsonl");
    EXPECT_EQ(p.line, 7);
    return p;
}

TEST(RowTypes, DetectedFromFields) {
    auto detect = [](const std::string& json, const data::ColumnMapping& m = {}) { return data::detect_row_type(Json::parse(json), m); };
    EXPECT_EQ(detect(R"({"messages": []})"), RowType::chat);
    EXPECT_EQ(detect(R"({"conversations": [], "id": 3})"), RowType::chat);
    EXPECT_EQ(detect(R"({"instruction": "a", "input": "", "output": "b"})"), RowType::alpaca);
    EXPECT_EQ(detect(R"({"prompt": "a", "completion": "b"})"), RowType::prompt_completion);
    EXPECT_EQ(detect(R"({"text": "a"})"), RowType::text);
    EXPECT_EQ(detect(R"({"text": "a", "label": 1})"), RowType::classification);
    EXPECT_EQ(detect(R"({"input_ids": [1], "labels": [1]})"), RowType::pretokenized);
    EXPECT_EQ(detect(R"({"question": "a"})"), std::nullopt);
    EXPECT_EQ(detect(R"({"question": "a", "answer": "b"})", {{"instruction", "question"}, {"output", "answer"}}), RowType::alpaca);
    EXPECT_EQ(data::parse_row_type("sharegpt"), RowType::chat);
    EXPECT_EQ(data::parse_row_type("nonsense"), std::nullopt);
}

TEST(RowTypes, OpenAiAndShareGptChats) {
    auto s = sample(R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                                     {"role": "assistant", "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]},
                                     {"role": "assistant", "content": null, "tool_calls": [{"name": "f"}]}]})",
                    RowType::chat);
    ASSERT_EQ(s.messages.size(), 4u);
    EXPECT_EQ(s.messages[2].content, "Hello");
    EXPECT_EQ(s.messages[3].extra["tool_calls"][0]["name"], "f");
    s = sample(R"({"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"},
                                      {"from": "function", "value": "{}"}, {"from": "observation", "value": "r"}]})",
               RowType::chat);
    std::vector<std::string> roles;
    for (const auto& m : s.messages) roles.push_back(m.role);
    EXPECT_EQ(roles, (std::vector<std::string>{"system", "user", "assistant", "tool", "tool"}));
    EXPECT_EQ(s.messages[1].content, "Q");
    EXPECT_EQ(s.file, "rows.jsonl");
    EXPECT_EQ(s.line, 7);
}

TEST(RowTypes, ChatFaultsNameTheField) {
    auto p = problem(R"({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]})", RowType::chat);
    EXPECT_EQ(p.field, "messages[1].role");
    EXPECT_NE(p.message.find("unknown role 'bot'"), std::string::npos);
    p = problem(R"({"conversations": []})", RowType::chat);
    EXPECT_EQ(p.field, "conversations");
    EXPECT_NE(p.message.find("empty conversation"), std::string::npos);
    p = problem(R"({"messages": [{"role": "user", "content": 42}]})", RowType::chat);
    EXPECT_EQ(p.field, "messages[0].content");
    EXPECT_NE(p.message.find("expected a string, found number"), std::string::npos);
    p = problem(R"({"messages": "hello"})", RowType::chat);
    EXPECT_EQ(p.field, "messages");
    p = problem(R"({"messages": [{"content": "x"}]})", RowType::chat);
    EXPECT_EQ(p.field, "messages[0].role");
    p = problem(R"({"messages": [{"role": "user"}]})", RowType::chat);
    EXPECT_EQ(p.field, "messages[0].content");
    p = problem(R"({"messages": ["hi"]})", RowType::chat);
    EXPECT_EQ(p.field, "messages[0]");
    p = problem(R"({"text": "x"})", RowType::chat);
    EXPECT_EQ(p.field, "messages");
}

TEST(RowTypes, AlpacaAsMessages) {
    auto s = sample(R"({"instruction": "Add", "input": "2 and 3", "output": "5", "system": "Math"})", RowType::alpaca);
    ASSERT_EQ(s.messages.size(), 3u);
    EXPECT_EQ(s.messages[0].role, "system");
    EXPECT_EQ(s.messages[1].content, "Add");
    EXPECT_EQ(s.messages[1].extra["input"], "2 and 3");
    EXPECT_EQ(s.messages[2].content, "5");
    s = sample(R"({"instruction": "Hi", "input": null, "output": "Hello"})", RowType::alpaca);
    ASSERT_EQ(s.messages.size(), 2u);
    EXPECT_FALSE(s.messages[0].extra.contains("input"));
    auto p = problem(R"({"instruction": "Hi", "output": ["x"]})", RowType::alpaca);
    EXPECT_EQ(p.field, "output");
    EXPECT_NE(p.message.find("expected a string, found array"), std::string::npos);
    p = problem(R"({"instruction": "Hi"})", RowType::alpaca);
    EXPECT_EQ(p.field, "output");
    EXPECT_NE(p.message.find("missing"), std::string::npos);
}

TEST(RowTypes, ColumnMapping) {
    data::ColumnMapping m = data::parse_column_mapping("instruction=question,output=answer");
    EXPECT_EQ(m.at("instruction"), "question");
    auto s = sample(R"({"question": "Q?", "answer": "A."})", RowType::alpaca, m);
    EXPECT_EQ(s.messages[0].content, "Q?");
    EXPECT_EQ(s.messages[1].content, "A.");
    auto p = problem(R"({"question": "Q?", "answer": 3})", RowType::alpaca, m);
    EXPECT_EQ(p.field, "answer");  // as the file spells it
    s = sample(R"({"dialog": [{"speaker": "user", "text": "x"}]})", RowType::chat, data::parse_column_mapping("messages=dialog,role=speaker,content=text"));
    EXPECT_EQ(s.messages[0].content, "x");
    EXPECT_THROW(data::parse_column_mapping("instruction"), std::exception);
}

TEST(RowTypes, PromptCompletionTextClassification) {
    auto s = sample(R"({"prompt": "2+2=", "completion": "4"})", RowType::prompt_completion);
    EXPECT_EQ(s.prompt, "2+2=");
    EXPECT_EQ(s.completion, "4");
    EXPECT_EQ(sample(R"({"text": "doc"})", RowType::text).text, "doc");
    EXPECT_EQ(sample(R"({"text": "good", "label": 1})", RowType::classification).label, "1");
    EXPECT_EQ(sample(R"({"text": "good", "label": "pos"})", RowType::classification).label, "pos");
    EXPECT_EQ(problem(R"({"text": "good", "label": 0.5})", RowType::classification).field, "label");
    EXPECT_EQ(problem(R"({"text": 5})", RowType::text).field, "text");
    EXPECT_EQ(problem(R"({"prompt": "a"})", RowType::prompt_completion).field, "completion");
}

TEST(RowTypes, Pretokenized) {
    auto s = sample(R"({"input_ids": [1, 2, 3], "labels": [-100, 2, 3], "attention_mask": [1, 1, 1]})", RowType::pretokenized);
    EXPECT_EQ(s.input_ids, (std::vector<int64_t>{1, 2, 3}));
    EXPECT_EQ(s.labels, (std::vector<int64_t>{-100, 2, 3}));
    auto p = problem(R"({"input_ids": [1, 2, 3], "labels": [1, 2]})", RowType::pretokenized);
    EXPECT_EQ(p.field, "labels");
    EXPECT_NE(p.message.find("has 2 entries but input_ids has 3"), std::string::npos) << p.message;
    p = problem(R"({"input_ids": [1, "2"]})", RowType::pretokenized);
    EXPECT_EQ(p.field, "input_ids[1]");
    EXPECT_EQ(problem(R"({"input_ids": []})", RowType::pretokenized).field, "input_ids");
    EXPECT_EQ(problem(R"({"input_ids": [1], "attention_mask": [1, 1]})", RowType::pretokenized).field, "attention_mask");
}

}  // namespace
}  // namespace lathe
