// A Sample turned into exactly the tokens and labels the trainer needs: chat rows through the model's
// own chat template, alpaca rows through a named prompt template, labels masked to the trained
// (assistant / completion) tokens using the tokenizer's offsets. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/data/rows.h"
#include "core/text/text_tokenizer.h"

namespace lathe::data {

enum class Truncation { right, left, drop };  // keep the start / keep the end / skip the row (a Problem)

struct RenderOptions {
    int64_t max_length = 0;                              // 0 = no limit (usually sequence_len)
    Truncation truncation = Truncation::right;
    bool train_on_inputs = false;                        // Axolotl's key: also train on prompt tokens
    std::vector<std::string> roles_to_train = {"assistant"};
    bool train_on_eos = true;                            // the end-of-turn/EOS token after a trained turn is trained
    // For alpaca and prompt_completion rows: "alpaca" (the Stanford Alpaca prompt, as Axolotl writes it),
    // "chat_template" (user/assistant messages through the model's template) or "none" (prompt, then
    // completion, as written).
    std::string prompt_template = "alpaca";
    nlohmann::ordered_json template_variables = nlohmann::ordered_json::object();  // e.g. {"enable_thinking": false}
};

struct RenderedRow {
    std::string text;                                    // the rendered text (empty for pretokenized rows)
    std::vector<int64_t> input_ids;
    std::vector<int64_t> labels;                         // -100 where not trained
    std::vector<std::pair<size_t, size_t>> offsets;      // byte span of each token in `text`
    int64_t untruncated_length = 0;                      // tokens before truncation
    std::map<std::string, int64_t> field_tokens;         // tokens per part (system/user/assistant/prompt/completion/text)
};

// Chat rows: the template renders the conversation prefix by prefix; a trained turn's tokens are those
// covering the bytes the turn added (after the generation prompt, for assistant turns), found through the
// tokenizer's offsets. An end-of-turn special token closing the turn is trained when train_on_eos; the
// whitespace the template writes after it is not. A template that renders earlier turns differently once
// later ones follow is reported (Problem), never guessed at.
// Alpaca rows arrive as messages: [system] user assistant, the user message holding the instruction in
// `content` and the input (if any) in extra["input"].
// Prompt formats and text rows end with EOS (added, and trained, unless the text already ends with it).
// A row that cannot be rendered (template raised, nothing left to train on, too long with `drop`) is a Problem.
std::variant<RenderedRow, Problem> render_sample(const Sample& sample, const TextTokenizer& tokenizer, const RenderOptions& options);
// The same; `tokenizer` may be null for pretokenized rows (a model folder without a tokenizer).
std::variant<RenderedRow, Problem> render_sample(const Sample& sample, const TextTokenizer* tokenizer, const RenderOptions& options);

}  // namespace lathe::data
