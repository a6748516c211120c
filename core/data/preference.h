// Preference rows (a prompt, a chosen and a rejected answer) turned into token sequences exactly as TRL 1.16
// does it. Torch-free.
//
// Row forms (TRL's): `prompt`/`chosen`/`rejected` as strings; the same as message lists (conversational);
// or only `chosen` and `rejected`, whole conversations (or texts) sharing their prompt as a prefix (the
// implicit prompt, split off as TRL's extract_prompt does).
//
// TRL 1.16 has two pipelines, and a method's numbers follow its own:
//  - dpo (DPOTrainer): conversational rows through the chat template (the prompt with the generation prompt,
//    prompt+completion without), tokenized without special tokens; text rows get the EOS text appended to
//    each completion and are tokenized with the tokenizer's special tokens. The completion starts where the
//    tokenized prompt and prompt+completion diverge. A row whose prompt alone fills max_length is dropped;
//    longer sequences keep their start.
//  - orpo_cpo (ORPOTrainer, CPOTrainer for SimPO): the chat template renders text first (the completion is
//    what prompt+completion adds to the prompt), tokens without special tokens, BOS put in front when the
//    tokenizer has one, EOS appended to each completion unless it already ends with it (so a ChatML
//    completion ends "<|im_end|>\n<|im_end|>"), and only the completion truncated to max_length.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "core/data/rows.h"
#include "core/text/text_tokenizer.h"

namespace lathe::data {

enum class PreferenceTokenization { dpo, orpo_cpo };

// A row in TRL's form after the implicit prompt is split off: strings, or message lists.
struct PreferenceRow {
    std::string file;
    int64_t line = 0;
    bool conversational = false;
    nlohmann::ordered_json prompt, chosen, rejected;
};

// Whether a row holds a preference pair (`chosen` and `rejected`), as opposed to any other dataset row.
bool is_preference_row(const nlohmann::ordered_json& value);
// The row in TRL's form, or why it cannot be one (field named).
std::variant<PreferenceRow, Problem> to_preference_row(const RawRow& raw);

// One side of a pair: the whole sequence and how many of its first tokens are the prompt (not trained).
struct PreferenceSequence {
    std::vector<int64_t> ids;
    int64_t prompt_tokens = 0;
    int64_t completion_tokens() const { return static_cast<int64_t>(ids.size()) - prompt_tokens; }
};

struct PreferencePair {
    std::string file;
    int64_t line = 0;
    PreferenceSequence chosen, rejected;
};

struct PreferenceTokenizeOptions {
    PreferenceTokenization pipeline = PreferenceTokenization::dpo;
    int64_t max_length = 0;         // prompt + completion tokens; 0 = no limit
    int64_t max_prompt_length = 0;  // keep the prompt's last tokens (TRL before 1.0); 0 = no limit
};

std::variant<PreferencePair, Problem> tokenize_preference_row(const PreferenceRow& row, const TextTokenizer& tokenizer,
                                                              const PreferenceTokenizeOptions& options);

// Axolotl's preference dataset types, turned into TRL's text form as Axolotl does before it hands rows to TRL:
//  - chat_template.default: `field_messages` (the conversation before the answers; a string is one user
//    message) through the chat template with the generation prompt is the prompt; `field_chosen` and
//    `field_rejected` (a string, a message, or a list whose last message counts) are each rendered after a
//    dummy user turn and cut from where their content starts, trailing whitespace stripped.
//  - chatml.intel: ChatML written out: an optional `system`, the `question`, each answer followed by <|im_end|>.
struct PreferenceFormat {
    std::string type;  // "" (TRL's forms), chat_template.default, chatml.intel
    std::string field_messages = "messages", field_chosen = "chosen", field_rejected = "rejected";
    std::string role_key = "role", content_key = "content";  // message_property_mappings
};
std::variant<PreferenceRow, Problem> axolotl_preference_row(const RawRow& raw, const PreferenceFormat& format, const TextTokenizer& tokenizer);

// Every row of a dataset file, tokenized; rows that cannot be used are `problems` (file, line, why), and
// so are pairs whose chosen and rejected are identical (they carry no preference; TRL would keep them).
struct PreferenceFile {
    std::vector<PreferencePair> pairs;
    std::vector<Problem> problems;
};
PreferenceFile read_preference_file(const std::string& path, const TextTokenizer& tokenizer, const PreferenceTokenizeOptions& options,
                                    const PreferenceFormat& format = {});

}  // namespace lathe::data
