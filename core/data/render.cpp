#include "core/data/render.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "core/util/error.h"

namespace lathe::data {

namespace {

using Span = std::pair<size_t, size_t>;  // bytes [begin, end) of the rendered text

Problem problem(const Sample& s, std::string field, std::string message) {
    return Problem{s.file, s.line, std::move(field), std::move(message)};
}

// A token belongs to a byte span when they overlap: a token that straddles the span's start (BPE may
// merge across it) counts, as in transformers' char_to_token-based assistant masks. Tokens the
// post-processor added (offsets {0, 0}) belong to no span.
bool overlaps(const std::pair<size_t, size_t>& token, const Span& span) {
    return token.first < span.second && token.second > span.first;
}

// Special (added, "special": true) tokens: skip_special_tokens removes them when decoding.
class SpecialTokens {
public:
    explicit SpecialTokens(const TextTokenizer& t) : t_(t) {}
    bool is_special(int64_t id) {
        auto it = known_.find(id);
        if (it != known_.end()) return it->second;
        bool special = t_.decode({id}, true).empty() && !t_.decode({id}, false).empty();
        known_.emplace(id, special);
        return special;
    }

private:
    const TextTokenizer& t_;
    std::unordered_map<int64_t, bool> known_;
};

bool is_blank(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}

// Marks the tokens of a trained turn. The turn's bytes are everything the turn added to the rendering;
// when they end with the template's end-of-turn marker (a special token followed by nothing but
// whitespace), the marker is trained only with train_on_eos and the whitespace after it not at all:
// the model must learn to stop, not to predict the template's separator.
void mark_turn(const Encoding& e, const Span& span, bool train_on_eos, const TextTokenizer& tok, SpecialTokens& specials,
               std::vector<int64_t>& labels) {
    std::vector<size_t> tokens;
    for (size_t k = 0; k < e.ids.size(); ++k)
        if (overlaps(e.offsets[k], span)) tokens.push_back(k);
    if (tokens.empty()) return;
    size_t end = tokens.size();  // tokens[0, end) trained
    std::optional<size_t> marker;
    for (size_t j = tokens.size(); j-- > 0;) {
        int64_t id = e.ids[tokens[j]];
        if (specials.is_special(id)) {
            marker = j;
            break;
        }
        if (!is_blank(tok.decode({id}, false))) break;
    }
    if (marker) end = *marker + (train_on_eos ? 1 : 0);
    for (size_t j = 0; j < end; ++j) labels[tokens[j]] = e.ids[tokens[j]];
}

nlohmann::ordered_json message_json(const Message& m) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["role"] = m.role;
    j["content"] = m.content;
    for (auto it = m.extra.begin(); it != m.extra.end(); ++it)
        if (it.key() != "role" && it.key() != "content" && it.key() != "input") j[it.key()] = it.value();
    return j;
}

std::string render_messages(const TextTokenizer& tok, const std::vector<Message>& messages, size_t count, bool generation_prompt,
                            const RenderOptions& options) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (size_t i = 0; i < count; ++i) list.push_back(message_json(messages[i]));
    ChatOptions chat;
    chat.add_generation_prompt = generation_prompt;
    chat.extra_variables = options.template_variables;
    return tok.apply_chat_template(list, chat);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// The rendering up to where turn i's content begins, for templates whose generation prompt is not how
// they start a finished turn. The turn is rendered with empty content and with a one-byte probe (\x01):
// the two differ only at the place the template puts the content. The turn itself must be that same
// rendering with its content inserted there; otherwise nothing is returned (nothing is guessed).
std::optional<std::string> content_start(const std::vector<Message>& messages, size_t i, const std::string& through,
                                         const RenderOptions& options, const TextTokenizer& tok) {
    std::vector<Message> probe(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    std::string empty, marked;
    try {  // a template may refuse an empty turn: then there is no answer here
        probe[i].content.clear();
        empty = render_messages(tok, probe, probe.size(), false, options);
        probe[i].content = "\x01";
        marked = render_messages(tok, probe, probe.size(), false, options);
    } catch (const Error&) {
        return std::nullopt;
    }
    if (marked.size() != empty.size() + 1) return std::nullopt;
    size_t at = 0;
    while (at < empty.size() && empty[at] == marked[at]) ++at;
    if (marked[at] != '\x01' || marked.compare(at + 1, std::string::npos, empty, at) != 0) return std::nullopt;
    if (through.size() < empty.size() || through.compare(0, at, empty, 0, at) != 0 ||
        through.compare(through.size() - (empty.size() - at), std::string::npos, empty, at) != 0)
        return std::nullopt;
    return through.substr(0, at);
}

struct Rendered {
    std::string text;
    std::vector<Span> trained;                    // byte spans whose tokens are trained
    std::vector<std::pair<std::string, Span>> parts;  // for field_tokens
    bool append_eos = false;                      // the format does not end with EOS: add one (trained)
};

// Chat: the template renders the conversation prefix by prefix. Each prefix must be the start of the
// next rendering; the bytes a trained turn adds (after the generation prompt, for assistant turns) are
// its trained span. A template that rewrites earlier turns when later ones follow breaks this, and the
// row is reported instead of guessed at.
std::variant<Rendered, Problem> render_chat(const Sample& s, const std::vector<Message>& messages, const TextTokenizer& tok,
                                            const RenderOptions& options) {
    if (messages.empty()) return problem(s, "messages", "empty conversation");
    Rendered r;
    auto render = [&](size_t count, bool gen) { return render_messages(tok, messages, count, gen, options); };
    try {
        r.text = render(messages.size(), false);
    } catch (const Error& e) {
        return problem(s, "messages", std::string("the chat template failed: ") + e.what());
    }
    auto trains = [&](const std::string& role) {
        return std::find(options.roles_to_train.begin(), options.roles_to_train.end(), role) != options.roles_to_train.end();
    };
    std::string previous;  // rendering of messages[:i]; the empty conversation renders as nothing here
    bool parts_sound = true;   // every turn's rendering extends the previous one (for field_tokens)
    for (size_t i = 0; i < messages.size(); ++i) {
        const std::string& role = messages[i].role;
        std::string at = "messages[" + std::to_string(i) + "]";
        std::string through, before;
        try {
            through = i + 1 == messages.size() ? r.text : render(i + 1, false);
            // A turn's header belongs to the prompt. For an assistant turn it is what add_generation_prompt
            // writes; otherwise (and where a template writes a finished turn's header differently) it is
            // where the turn's content starts.
            if (trains(role)) {
                bool generation_prompt = role == "assistant" && i > 0;
                if (generation_prompt) before = render(i, true);
                if (!generation_prompt || !starts_with(through, before)) {
                    if (auto start = content_start(messages, i, through, options, tok)) before = *start;
                    else if (!generation_prompt) before = i > 0 ? render(i, false) : "";
                }
            }
        } catch (const Error& e) {
            if (!trains(role)) {
                parts_sound = false;
                continue;
            }
            return problem(s, at, std::string("the chat template cannot render the conversation up to this turn: ") + e.what());
        }
        bool extends = starts_with(r.text, through) && starts_with(through, previous);
        if (trains(role)) {
            if (!starts_with(through, before) || !starts_with(r.text, through))
                return problem(s, at,
                               "the chat template renders this turn differently once later turns follow (it rewrites earlier "
                               "turns), so its tokens cannot be located soundly; train only roles whose turns it keeps, or use "
                               "another template");
            r.trained.push_back({before.size(), through.size()});
        }
        if (!extends) {
            parts_sound = false;
            continue;
        }
        r.parts.push_back({role, {previous.size(), through.size()}});
        previous = std::move(through);
    }
    if (!parts_sound) r.parts.clear();
    return r;
}

// The Stanford Alpaca prompt, as Axolotl's AlpacaPrompter builds it; a row's own system text replaces
// the default preamble.
std::string alpaca_prompt(const std::string& system, const std::string& instruction, const std::string& input) {
    static const char* with_input =
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.";
    static const char* without_input = "Below is an instruction that describes a task. Write a response that appropriately completes the request.";
    std::string preamble = !system.empty() ? system : (input.empty() ? without_input : with_input);
    std::string p = preamble + "\n\n### Instruction:\n" + instruction + "\n\n";
    if (!input.empty()) p += "### Input:\n" + input + "\n\n";
    return p + "### Response:\n";
}

// An alpaca row's fields: [system] user assistant, the user message holding the instruction and, in
// extra["input"], the input.
struct AlpacaFields {
    std::string system, instruction, input, output;
};

std::variant<AlpacaFields, Problem> alpaca_fields(const Sample& s) {
    AlpacaFields f;
    bool user = false, assistant = false;
    for (const Message& m : s.messages) {
        if (m.role == "system") f.system = m.content;
        else if (m.role == "user" && !user) {
            user = true;
            f.instruction = m.content;
            if (m.extra.contains("input") && m.extra["input"].is_string()) f.input = m.extra["input"].get<std::string>();
        } else if (m.role == "assistant" && !assistant) {
            assistant = true;
            f.output = m.content;
        } else {
            return problem(s, "", "an alpaca row has one instruction and one output (got an extra '" + m.role + "' message)");
        }
    }
    if (!user) return problem(s, "instruction", "missing instruction");
    if (!assistant) return problem(s, "output", "missing output");
    return f;
}

std::vector<Message> as_chat(const std::string& system, const std::string& user, const std::string& assistant) {
    std::vector<Message> m;
    if (!system.empty()) m.push_back({"system", system, nlohmann::ordered_json::object()});
    m.push_back({"user", user, nlohmann::ordered_json::object()});
    m.push_back({"assistant", assistant, nlohmann::ordered_json::object()});
    return m;
}

// A prompt and its completion through the named prompt template.
std::variant<Rendered, Problem> render_prompt(const Sample& s, const std::string& system, const std::string& instruction,
                                              const std::string& input, const std::string& output, const TextTokenizer& tok,
                                              const RenderOptions& options) {
    const std::string& name = options.prompt_template;
    if (name == "chat_template") {
        RenderOptions o = options;
        o.roles_to_train = {"assistant"};
        std::string user = input.empty() ? instruction : instruction + "\n\n" + input;
        return render_chat(s, as_chat(system, user, output), tok, o);
    }
    Rendered r;
    std::string prompt;
    if (name == "alpaca") prompt = alpaca_prompt(system, instruction, input);
    else if (name == "none") prompt = instruction + input;  // the prompt as written, the completion right after
    else return problem(s, "", "unknown prompt template '" + name + "' (expected alpaca, chat_template or none)");
    r.text = prompt + output;
    r.trained.push_back({prompt.size(), r.text.size()});
    r.parts.push_back({"prompt", {0, prompt.size()}});
    r.parts.push_back({"completion", {prompt.size(), r.text.size()}});
    r.append_eos = true;
    return r;
}

std::variant<Rendered, Problem> render_text(const Sample& s, const TextTokenizer& tok, const RenderOptions& options) {
    switch (s.type) {
        case RowType::chat: return render_chat(s, s.messages, tok, options);
        case RowType::alpaca: {
            auto f = alpaca_fields(s);
            if (auto* p = std::get_if<Problem>(&f)) return *p;
            const auto& a = std::get<AlpacaFields>(f);
            return render_prompt(s, a.system, a.instruction, a.input, a.output, tok, options);
        }
        case RowType::prompt_completion: return render_prompt(s, "", s.prompt, "", s.completion, tok, options);
        case RowType::text: {
            Rendered r;
            r.text = s.text;
            r.trained.push_back({0, s.text.size()});
            r.parts.push_back({"text", {0, s.text.size()}});
            r.append_eos = true;
            return r;
        }
        default: return problem(s, "", "classification rows cannot be rendered for causal-LM training (they have no completion)");
    }
}

RenderedRow pretokenized(const Sample& s) {
    RenderedRow row;
    row.input_ids = s.input_ids;
    row.labels = s.labels.empty() ? s.input_ids : s.labels;
    // Positions the row's own mask marks as padding are never trained.
    for (size_t k = 0; k < s.attention_mask.size() && k < row.labels.size(); ++k)
        if (s.attention_mask[k] == 0) row.labels[k] = -100;
    row.field_tokens["input_ids"] = static_cast<int64_t>(row.input_ids.size());
    return row;
}

}  // namespace

std::variant<RenderedRow, Problem> render_sample(const Sample& sample, const TextTokenizer& tokenizer, const RenderOptions& options) {
    return render_sample(sample, &tokenizer, options);
}

std::variant<RenderedRow, Problem> render_sample(const Sample& sample, const TextTokenizer* tokenizer_or_null, const RenderOptions& options) {
    RenderedRow row;
    if (sample.type == RowType::pretokenized) {
        if (sample.input_ids.empty()) return problem(sample, "input_ids", "empty input_ids");
        if (!sample.labels.empty() && sample.labels.size() != sample.input_ids.size())
            return problem(sample, "labels", "labels has " + std::to_string(sample.labels.size()) + " entries, input_ids " +
                                                 std::to_string(sample.input_ids.size()));
        if (!sample.attention_mask.empty() && sample.attention_mask.size() != sample.input_ids.size())
            return problem(sample, "attention_mask", "attention_mask has " + std::to_string(sample.attention_mask.size()) +
                                                         " entries, input_ids " + std::to_string(sample.input_ids.size()));
        row = pretokenized(sample);
    } else {
        LATHE_ASSERT(tokenizer_or_null);  // only pretokenized rows render without a tokenizer
        const TextTokenizer& tokenizer = *tokenizer_or_null;
        auto rendered = render_text(sample, tokenizer, options);
        if (auto* p = std::get_if<Problem>(&rendered)) return *p;
        Rendered& r = std::get<Rendered>(rendered);
        // Chat templates write their own special tokens (BOS included), so transformers tokenizes their
        // output without adding any; plain prompts get the tokenizer's BOS as in training text.
        bool chat = sample.type == RowType::chat ||
                    (options.prompt_template == "chat_template" && (sample.type == RowType::alpaca || sample.type == RowType::prompt_completion));
        bool add_special = !chat;
        Encoding e;
        try {
            e = tokenizer.encode(r.text, add_special);
        } catch (const Error& err) {
            return problem(sample, "", std::string("tokenizing failed: ") + err.what());
        }
        row.text = std::move(r.text);
        row.input_ids = e.ids;
        row.offsets = e.offsets;
        row.labels.assign(e.ids.size(), -100);
        if (options.train_on_inputs || sample.type == RowType::text) {  // text: every token, BOS included
            row.labels = e.ids;
        } else {
            SpecialTokens specials(tokenizer);
            for (const Span& span : r.trained)
                if (r.append_eos) {  // prompt formats: every token of the completion is trained
                    for (size_t k = 0; k < e.ids.size(); ++k)
                        if (overlaps(e.offsets[k], span)) row.labels[k] = e.ids[k];
                } else {
                    mark_turn(e, span, options.train_on_eos, tokenizer, specials, row.labels);
                }
        }
        for (const auto& [name, span] : r.parts) {
            int64_t n = 0;
            for (const auto& off : e.offsets) n += overlaps(off, span);
            row.field_tokens[name] += n;
        }
        // Plain formats end the completion with EOS so the model learns to stop; not twice when the
        // tokenizer's post-processor already added one.
        auto eos = tokenizer.eos_id();
        if (r.append_eos && eos && (row.input_ids.empty() || row.input_ids.back() != *eos)) {
            row.input_ids.push_back(*eos);
            row.labels.push_back(options.train_on_eos || options.train_on_inputs || sample.type == RowType::text ? *eos : -100);
            row.offsets.emplace_back(row.text.size(), row.text.size());
        }
    }

    row.untruncated_length = static_cast<int64_t>(row.input_ids.size());
    if (options.max_length > 0 && row.untruncated_length > options.max_length) {
        size_t keep = static_cast<size_t>(options.max_length);
        switch (options.truncation) {
            case Truncation::drop:
                return problem(sample, "", std::to_string(row.untruncated_length) + " tokens, over max_length " +
                                               std::to_string(options.max_length) + " (truncation: drop)");
            case Truncation::right:
                row.input_ids.resize(keep);
                row.labels.resize(keep);
                if (!row.offsets.empty()) row.offsets.resize(keep);
                break;
            case Truncation::left: {
                size_t cut = row.input_ids.size() - keep;
                row.input_ids.erase(row.input_ids.begin(), row.input_ids.begin() + cut);
                row.labels.erase(row.labels.begin(), row.labels.begin() + cut);
                if (!row.offsets.empty()) row.offsets.erase(row.offsets.begin(), row.offsets.begin() + cut);
                break;
            }
        }
    }
    // A causal LM learns from a label only at position >= 1 (the first token is predicted from nothing).
    bool trained = false;
    for (size_t k = 1; k < row.labels.size(); ++k) trained = trained || row.labels[k] != -100;
    if (!trained)
        return problem(sample, "", row.untruncated_length > static_cast<int64_t>(row.input_ids.size())
                                       ? "no trained tokens left after truncation to max_length " + std::to_string(options.max_length)
                                       : "no tokens to train on");
    return row;
}

}  // namespace lathe::data
