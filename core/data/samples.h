// From a RawRow (whatever fields the file has) to a Sample of one RowType: detecting the type from the
// fields, and checking every field the type needs. Torch-free.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/data/rows.h"

namespace lathe::data {

// The row type a row's fields say, or nullopt. In order: `messages` or `conversations` -> chat,
// `input_ids` -> pretokenized, `instruction` + `output` -> alpaca, `prompt` + `completion` ->
// prompt_completion, `text` + `label` -> classification, `text` -> text. Only the presence of the
// (mapped) fields counts; to_sample checks their types.
std::optional<RowType> detect_row_type(const nlohmann::ordered_json& row, const ColumnMapping& mapping = {});

// Lathe's names of the fields a row type reads (required first), for messages and the mapping help.
std::vector<std::string> row_type_fields(RowType type);

// The row as a Sample of `type` (not automatic), or a Problem naming the field at fault as the file
// spells it ("conversations[3].from"): a missing field, a wrong type, an unknown role, an empty
// conversation, labels not as long as input_ids, ... .
//   chat: OpenAI `messages` [{role, content}] or ShareGPT `conversations` [{from, value}]; roles
//     human/user -> user, gpt/assistant/model -> assistant, system, tool/function/observation/ipython -> tool.
//     Content is a string, a list of {"type": "text", "text": ...} parts (joined), or null beside tool_calls.
//   alpaca: instruction, output, optional input and system -> messages [system], user (the instruction;
//     the input, when not empty, in extra["input"]), assistant (the output), as render_sample expects.
//   classification: label as written (a string, or an integer or boolean written out).
// Mapping: Lathe's name -> the file's ({"instruction": "question"}); "role" and "content" map the keys
// inside messages.
std::variant<Sample, Problem> to_sample(const RawRow& row, RowType type, const ColumnMapping& mapping = {});

// "instruction=question,output=answer" -> mapping; throws lathe::Error for a malformed entry.
ColumnMapping parse_column_mapping(const std::string& text);

}  // namespace lathe::data
