#include "core/data/preference.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "core/data/read_rows.h"
#include "core/util/error.h"

namespace lathe::data {

namespace {

using ojson = nlohmann::ordered_json;

Problem problem(const std::string& file, int64_t line, std::string field, std::string message) {
    return Problem{file, line, std::move(field), std::move(message)};
}

// TRL's is_conversational: a list whose first element is an object with a "role".
bool is_conversational(const ojson& v) { return v.is_array() && !v.empty() && v[0].is_object() && v[0].contains("role"); }

// Why a message list cannot go through a chat template, or "".
std::string message_list_fault(const ojson& list, const std::string& field) {
    for (size_t i = 0; i < list.size(); ++i) {
        const ojson& m = list[i];
        std::string at = field + "[" + std::to_string(i) + "]";
        if (!m.is_object()) return at + ": expected a message object {\"role\": ..., \"content\": ...}";
        if (!m.contains("role") || !m["role"].is_string()) return at + ".role: expected a string";
        if (!m.contains("content") || !m["content"].is_string()) return at + ".content: expected a string";
    }
    return "";
}

// Byte index of the code point before byte `i` of UTF-8 text `s` (Python indexes strings by code point).
size_t previous_code_point(const std::string& s, size_t i) {
    do --i;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80);
    return i;
}

// TRL's extract_prompt, including its quirks: the prompt is the longest common prefix (messages, or code
// points of text), less a space it ends with; when one side is a prefix of the other, the loop ends on
// the last shared element, which goes to the completions.
std::variant<PreferenceRow, std::string> extract_prompt(PreferenceRow row) {
    if (row.chosen.is_array() && row.rejected.is_array()) {
        const size_t n = std::min(row.chosen.size(), row.rejected.size());
        if (n == 0) return std::string("chosen and rejected must not be empty");
        size_t idx = 0;
        for (idx = 0; idx < n; ++idx)
            if (row.chosen[idx] != row.rejected[idx]) break;
        if (idx == n) idx = n - 1;
        ojson prompt = ojson::array(), chosen = ojson::array(), rejected = ojson::array();
        for (size_t i = 0; i < row.chosen.size(); ++i) (i < idx ? prompt : chosen).push_back(row.chosen[i]);
        for (size_t i = idx; i < row.rejected.size(); ++i) rejected.push_back(row.rejected[i]);
        row.prompt = prompt;
        row.chosen = chosen;
        row.rejected = rejected;
        return row;
    }
    if (!row.chosen.is_string() || !row.rejected.is_string()) return std::string("chosen and rejected must both be strings or both be message lists");
    const std::string c = row.chosen.get<std::string>(), r = row.rejected.get<std::string>();
    const size_t n = std::min(c.size(), r.size());
    if (n == 0) return std::string("chosen and rejected must not be empty");
    size_t idx = 0;
    while (idx < n && c[idx] == r[idx]) ++idx;
    if (idx == n) {  // no difference within the shorter text: Python's loop ends on its last code point
        idx = previous_code_point(c, n);
    } else {
        while (idx > 0 && (static_cast<unsigned char>(c[idx]) & 0xC0) == 0x80) --idx;  // where the code points differ
        if (idx > 0 && c[idx - 1] == ' ') --idx;
    }
    row.prompt = c.substr(0, idx);
    row.chosen = c.substr(idx);
    row.rejected = r.substr(idx);
    return row;
}

size_t common_prefix_length(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

std::string common_prefix(const std::string& a, const std::string& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    while (n > 0 && n < a.size() && (static_cast<unsigned char>(a[n]) & 0xC0) == 0x80) --n;  // whole code points, as Python compares
    return a.substr(0, n);
}

ojson concat(const ojson& a, const ojson& b) {
    ojson out = a;
    for (const auto& m : b) out.push_back(m);
    return out;
}

std::string render(const TextTokenizer& tok, const ojson& messages, bool generation_prompt) {
    ChatOptions o;
    o.add_generation_prompt = generation_prompt;
    return tok.apply_chat_template(messages, o);
}

std::string eos_text(const TextTokenizer& tok) { return tok.eos_id() ? tok.decode({*tok.eos_id()}, false) : std::string(); }

// Keeps the prompt's last `max_prompt_length` tokens (TRL's rule before 1.0, which 1.16 no longer has).
void limit_prompt(PreferenceSequence& s, int64_t max_prompt_length) {
    if (max_prompt_length <= 0 || s.prompt_tokens <= max_prompt_length) return;
    const int64_t cut = s.prompt_tokens - max_prompt_length;
    s.ids.erase(s.ids.begin(), s.ids.begin() + cut);
    s.prompt_tokens = max_prompt_length;
}

// DPOTrainer's _prepare_dataset (tokenize_fn, the drop of over-long prompts) and its collator's keep_start
// truncation.
std::variant<PreferencePair, Problem> tokenize_dpo(const PreferenceRow& row, const TextTokenizer& tok, const PreferenceTokenizeOptions& o) {
    std::vector<int64_t> prompt_ids, chosen_ids, rejected_ids;
    if (row.conversational) {
        prompt_ids = tok.encode(render(tok, row.prompt, true), false).ids;
        chosen_ids = tok.encode(render(tok, concat(row.prompt, row.chosen), false), false).ids;
        rejected_ids = tok.encode(render(tok, concat(row.prompt, row.rejected), false), false).ids;
    } else {
        const std::string eos = eos_text(tok);
        auto with_eos = [&](std::string s) {
            if (eos.empty() || s.size() < eos.size() || s.compare(s.size() - eos.size(), eos.size(), eos) != 0) s += eos;
            return s;
        };
        const std::string prompt = row.prompt.get<std::string>();
        prompt_ids = tok.encode(prompt, true).ids;
        chosen_ids = tok.encode(prompt + with_eos(row.chosen.get<std::string>()), true).ids;
        rejected_ids = tok.encode(prompt + with_eos(row.rejected.get<std::string>()), true).ids;
    }
    const int64_t prompt_len =
        static_cast<int64_t>(std::min(common_prefix_length(prompt_ids, chosen_ids), common_prefix_length(prompt_ids, rejected_ids)));
    PreferencePair pair{row.file, row.line, {chosen_ids, prompt_len}, {rejected_ids, prompt_len}};
    limit_prompt(pair.chosen, o.max_prompt_length);
    limit_prompt(pair.rejected, o.max_prompt_length);
    if (o.max_length > 0) {
        if (pair.chosen.prompt_tokens >= o.max_length)
            return problem(row.file, row.line, "prompt",
                           "the prompt alone has " + std::to_string(pair.chosen.prompt_tokens) + " tokens, max_length is " +
                               std::to_string(o.max_length) + " (TRL drops such rows)");
        for (PreferenceSequence* s : {&pair.chosen, &pair.rejected})
            if (static_cast<int64_t>(s->ids.size()) > o.max_length) s->ids.resize(static_cast<size_t>(o.max_length));
    }
    for (const auto& [name, s] : {std::pair{"chosen", &pair.chosen}, std::pair{"rejected", &pair.rejected}})
        if (s->completion_tokens() <= 0) return problem(row.file, row.line, name, "the completion has no tokens");
    return pair;
}

// ORPOTrainer/CPOTrainer: maybe_apply_chat_template, then tokenize_row with build_tokenized_answer.
std::variant<PreferencePair, Problem> tokenize_orpo_cpo(const PreferenceRow& row, const TextTokenizer& tok,
                                                        const PreferenceTokenizeOptions& o) {
    std::string prompt, chosen, rejected;
    if (row.conversational) {
        const std::string last_role = row.prompt.empty() ? "" : row.prompt.back()["role"].get<std::string>();
        if (last_role != "user" && last_role != "tool")
            return problem(row.file, row.line, "prompt",
                           "the prompt must end with a user or tool message (got '" + last_role + "'), as TRL's ORPO and CPO trainers require");
        prompt = render(tok, row.prompt, true);
        const std::string with_chosen = render(tok, concat(row.prompt, row.chosen), false);
        const std::string with_rejected = render(tok, concat(row.prompt, row.rejected), false);
        prompt = common_prefix(common_prefix(prompt, with_chosen), with_rejected);
        chosen = with_chosen.substr(prompt.size());
        rejected = with_rejected.substr(prompt.size());
    } else {
        prompt = row.prompt.get<std::string>();
        chosen = row.chosen.get<std::string>();
        rejected = row.rejected.get<std::string>();
    }
    const std::vector<int64_t> prompt_ids = tok.encode(prompt, false).ids;
    // build_tokenized_answer: enc(prompt + answer), the prompt being its first len(enc(prompt)) tokens, or one
    // fewer when the tokenizer merged the prompt's last token into the answer.
    auto side = [&](const std::string& answer) {
        std::vector<int64_t> full = tok.encode(prompt + answer, false).ids;
        size_t start = std::min(prompt_ids.size(), full.size());
        if (!std::equal(prompt_ids.begin(), prompt_ids.begin() + static_cast<std::ptrdiff_t>(start), full.begin()) || start < prompt_ids.size())
            start = start > 0 ? start - 1 : 0;
        return PreferenceSequence{full, static_cast<int64_t>(start)};
    };
    PreferenceSequence c = side(chosen), r = side(rejected);
    size_t differing = 0;
    for (int64_t i = 0; i < std::min(c.prompt_tokens, r.prompt_tokens); ++i) differing += c.ids[i] != r.ids[i];
    if (differing > 1 || std::abs(c.prompt_tokens - r.prompt_tokens) > 1)
        return problem(row.file, row.line, "prompt", "chosen and rejected tokenize the prompt differently beyond its last token");
    for (PreferenceSequence* s : {&c, &r}) {
        if (auto bos = tok.bos_id(); bos && (s->prompt_tokens == 0 || s->ids[0] != *bos)) {
            s->ids.insert(s->ids.begin(), *bos);
            ++s->prompt_tokens;
        }
        if (auto eos = tok.eos_id(); eos && (s->completion_tokens() == 0 || s->ids.back() != *eos)) s->ids.push_back(*eos);
        limit_prompt(*s, o.max_prompt_length);
        if (o.max_length > 0 && static_cast<int64_t>(s->ids.size()) > o.max_length)
            s->ids.resize(static_cast<size_t>(std::max(o.max_length, s->prompt_tokens)));
    }
    for (const auto& [name, s] : {std::pair{"chosen", &c}, std::pair{"rejected", &r}})
        if (s->completion_tokens() <= 0)
            return problem(row.file, row.line, name,
                           "no completion tokens are left (the prompt has " + std::to_string(s->prompt_tokens) + " tokens, max_length is " +
                               std::to_string(o.max_length) + ")");
    return PreferencePair{row.file, row.line, std::move(c), std::move(r)};
}

}  // namespace

bool is_preference_row(const nlohmann::ordered_json& value) {
    return value.is_object() && value.contains("chosen") && value.contains("rejected");
}

std::variant<PreferenceRow, Problem> to_preference_row(const RawRow& raw) {
    const ojson& v = raw.value;
    if (!is_preference_row(v)) return problem(raw.file, raw.line, "", "a preference row needs 'chosen' and 'rejected' (and usually 'prompt')");
    PreferenceRow row{raw.file, raw.line, false, v.contains("prompt") ? v["prompt"] : ojson(), v["chosen"], v["rejected"]};
    for (const char* key : {"chosen", "rejected"}) {
        const ojson& field = v[key];
        if (!field.is_string() && !field.is_array()) return problem(raw.file, raw.line, key, "expected a string or a list of messages");
        if (field.is_array()) {
            if (std::string fault = message_list_fault(field, key); !fault.empty()) return problem(raw.file, raw.line, "", fault);
        }
    }
    const bool chosen_conv = is_conversational(row.chosen);
    if (chosen_conv != is_conversational(row.rejected))
        return problem(raw.file, raw.line, "rejected", "chosen and rejected must both be strings or both be message lists");
    // maybe_extract_prompt: a prompt of the other form (a string beside conversations) is ignored.
    const bool has_prompt = v.contains("prompt") && !v["prompt"].is_null();
    if (has_prompt && is_conversational(row.prompt) == chosen_conv) {
        if (row.prompt.is_array()) {
            if (std::string fault = message_list_fault(row.prompt, "prompt"); !fault.empty()) return problem(raw.file, raw.line, "", fault);
        } else if (!row.prompt.is_string()) {
            return problem(raw.file, raw.line, "prompt", "expected a string or a list of messages");
        }
    } else {
        auto extracted = extract_prompt(row);
        if (auto* why = std::get_if<std::string>(&extracted)) return problem(raw.file, raw.line, "", *why);
        row = std::get<PreferenceRow>(std::move(extracted));
    }
    row.conversational = chosen_conv;
    return row;
}

std::variant<PreferencePair, Problem> tokenize_preference_row(const PreferenceRow& row, const TextTokenizer& tokenizer,
                                                              const PreferenceTokenizeOptions& options) {
    if (row.conversational && !tokenizer.has_chat_template())
        return problem(row.file, row.line, "", "conversational rows need the model's chat template, and its tokenizer has none");
    try {
        return options.pipeline == PreferenceTokenization::dpo ? tokenize_dpo(row, tokenizer, options) : tokenize_orpo_cpo(row, tokenizer, options);
    } catch (const std::exception& e) {
        return problem(row.file, row.line, "", std::string("cannot render or tokenize the row: ") + e.what());
    }
}

std::variant<PreferenceRow, Problem> axolotl_preference_row(const RawRow& raw, const PreferenceFormat& f, const TextTokenizer& tok) {
    const ojson& v = raw.value;
    auto missing = [&](const std::string& field) { return problem(raw.file, raw.line, field, "missing (" + f.type + " rows need it)"); };
    auto text_of = [&](const std::string& field) -> std::optional<std::string> {
        if (!v.contains(field) || !v[field].is_string()) return std::nullopt;
        return v[field].get<std::string>();
    };
    PreferenceRow row{raw.file, raw.line, false, {}, {}, {}};
    if (f.type == "chatml.intel") {
        auto question = text_of("question"), chosen = text_of("chosen"), rejected = text_of("rejected");
        if (!question) return missing("question");
        if (!chosen) return missing("chosen");
        if (!rejected) return missing("rejected");
        auto system = text_of("system");
        std::string prompt = system && !system->empty() ? "<|im_start|>system\n" + *system + "<|im_end|>\n" : "";
        row.prompt = prompt + "<|im_start|>user\n" + *question + "<|im_end|>\n<|im_start|>assistant\n";
        row.chosen = *chosen + "<|im_end|>";
        row.rejected = *rejected + "<|im_end|>";
        return row;
    }
    if (f.type != "chat_template.default") return problem(raw.file, raw.line, "", "unknown preference dataset type '" + f.type + "'");
    if (!tok.has_chat_template()) return problem(raw.file, raw.line, "", "chat_template.default needs the model's chat template, and its tokenizer has none");
    static const char* roles[] = {"user", "assistant", "system", "tool"};
    // One message in the template's keys, or why not.
    auto message = [&](const ojson& m, const std::string& at) -> std::variant<ojson, std::string> {
        if (!m.is_object() || !m.contains(f.role_key) || !m[f.role_key].is_string() || !m.contains(f.content_key) || !m[f.content_key].is_string())
            return at + ": expected a message with string '" + f.role_key + "' and '" + f.content_key + "'";
        const std::string role = m[f.role_key].get<std::string>();
        if (std::none_of(std::begin(roles), std::end(roles), [&](const char* r) { return role == r; }))
            return at + "." + f.role_key + ": unknown role '" + role + "' (user, assistant, system, tool)";
        return ojson{{"role", role}, {"content", m[f.content_key]}};
    };
    if (!v.contains(f.field_messages)) return missing(f.field_messages);
    ojson messages = ojson::array();
    if (v[f.field_messages].is_string()) {
        messages.push_back({{"role", "user"}, {"content", v[f.field_messages]}});
    } else if (v[f.field_messages].is_array()) {
        for (size_t i = 0; i < v[f.field_messages].size(); ++i) {
            auto m = message(v[f.field_messages][i], f.field_messages + "[" + std::to_string(i) + "]");
            if (auto* why = std::get_if<std::string>(&m)) return problem(raw.file, raw.line, "", *why);
            messages.push_back(std::get<ojson>(m));
        }
    } else {
        return problem(raw.file, raw.line, f.field_messages, "expected a list of messages or a string");
    }
    auto answer = [&](const std::string& field) -> std::variant<std::string, Problem> {
        if (!v.contains(field)) return missing(field);
        const ojson& a = v[field];
        ojson m;
        if (a.is_string()) m = ojson{{"role", "assistant"}, {"content", a}};
        else if (a.is_object()) {
            auto one = message(a, field);
            if (auto* why = std::get_if<std::string>(&one)) return problem(raw.file, raw.line, "", *why);
            m = std::get<ojson>(one);
        } else if (a.is_array() && !a.empty()) {
            auto one = message(a.back(), field + "[" + std::to_string(a.size() - 1) + "]");
            if (auto* why = std::get_if<std::string>(&one)) return problem(raw.file, raw.line, "", *why);
            m = std::get<ojson>(one);
        } else {
            return problem(raw.file, raw.line, field, "expected a string, a message or a list of messages");
        }
        const std::string rendered = render(tok, ojson::array({ojson{{"role", "user"}, {"content", "[[dummy_message]]"}}, m}), false);
        const std::string content = m["content"].get<std::string>();
        // Python's find: -1 when absent, which keeps only the last character.
        size_t at = rendered.find(content);
        std::string cut = at == std::string::npos ? (rendered.empty() ? "" : rendered.substr(rendered.size() - 1)) : rendered.substr(at);
        while (!cut.empty() && std::isspace(static_cast<unsigned char>(cut.back()))) cut.pop_back();
        return cut;
    };
    try {
        row.prompt = render(tok, messages, true);
        auto chosen = answer(f.field_chosen);
        if (auto* p = std::get_if<Problem>(&chosen)) return *p;
        auto rejected = answer(f.field_rejected);
        if (auto* p = std::get_if<Problem>(&rejected)) return *p;
        row.chosen = std::get<std::string>(chosen);
        row.rejected = std::get<std::string>(rejected);
    } catch (const std::exception& e) {
        return problem(raw.file, raw.line, "", std::string("the chat template failed: ") + e.what());
    }
    return row;
}

PreferenceFile read_preference_file(const std::string& path, const TextTokenizer& tokenizer, const PreferenceTokenizeOptions& options,
                                    const PreferenceFormat& format) {
    PreferenceFile out;
    read_rows(
        path, {},
        [&](RawRow&& raw) {
            auto row = format.type.empty() ? to_preference_row(raw) : axolotl_preference_row(raw, format, tokenizer);
            if (auto* p = std::get_if<Problem>(&row)) return out.problems.push_back(std::move(*p));
            const PreferenceRow& r = std::get<PreferenceRow>(row);
            if (r.chosen == r.rejected)  // no preference to learn: skipped (TRL would train on it)
                return out.problems.push_back(problem(r.file, r.line, "rejected", "chosen and rejected are identical, so the pair teaches no preference"));
            auto pair = tokenize_preference_row(r, tokenizer, options);
            if (auto* p = std::get_if<Problem>(&pair)) return out.problems.push_back(std::move(*p));
            out.pairs.push_back(std::get<PreferencePair>(std::move(pair)));
        },
        [&](Problem&& p) { out.problems.push_back(std::move(p)); });
    return out;
}

}  // namespace lathe::data
