// A case of tests/interop/make_render_references.py's cases.json as the Sample it describes (chat,
// alpaca, prompt/completion or text), for the rendering and packing tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/data/rows.h"

namespace lathe::test {

inline data::Sample sample_from_render_case(const nlohmann::ordered_json& c) {
    using data::RowType;
    data::Sample s;
    s.file = "cases.json";
    s.line = 1;
    std::string kind = c["kind"];
    if (kind == "chat") {
        s.type = RowType::chat;
        for (const auto& m : c["messages"]) s.messages.push_back({m["role"], m["content"], nlohmann::ordered_json::object()});
    } else if (kind == "alpaca") {
        s.type = RowType::alpaca;
        if (c.contains("system")) s.messages.push_back({"system", c["system"], nlohmann::ordered_json::object()});
        s.messages.push_back({"user", c["instruction"], nlohmann::ordered_json{{"input", c["input"]}}});
        s.messages.push_back({"assistant", c["output"], nlohmann::ordered_json::object()});
    } else if (kind == "prompt_completion") {
        s.type = RowType::prompt_completion;
        s.prompt = c["prompt"];
        s.completion = c["completion"];
    } else {
        s.type = RowType::text;
        s.text = c["text"];
    }
    return s;
}

}  // namespace lathe::test
