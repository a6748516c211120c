#include <nlohmann/json.hpp>

#include <sstream>

#include "core/adapters/peft.h"
#include "core/cli/commands.h"
#include "core/generate/generate.h"
#include "core/models/loader.h"
#include "core/text/text_tokenizer.h"
#include "core/util/error.h"

namespace lathe {

std::vector<int64_t> parse_token_ids(const std::string& text) {
    std::vector<int64_t> ids;
    std::string piece;
    auto flush = [&] {
        if (piece.empty()) return;
        size_t used = 0;
        long long value = -1;
        try {
            value = std::stoll(piece, &used);
        } catch (const std::exception&) {
        }
        if (used != piece.size() || value < 0)
            throw Error("'" + piece + "' is not a token id; give ids as numbers, e.g. \"1 345 22\"");
        ids.push_back(value);
        piece.clear();
    };
    for (char ch : text) {
        if (ch == ' ' || ch == ',' || ch == '\t' || ch == '\n' || ch == '[' || ch == ']') flush();
        else piece.push_back(ch);
    }
    flush();
    return ids;
}

void run_generate(const GenerateCommand& cmd, std::ostream& out) {
    LoadOptions options;
    options.device = parse_device(cmd.device);
    if (!cmd.dtype.empty()) options.dtype = parse_dtype(cmd.dtype);
    auto model = load_model(cmd.model_dir, options);
    if (!model->lm) throw Error(cmd.model_dir + ": a " + model->config.model_type + " model does not generate text");
    if (!cmd.adapter_dir.empty()) attach_peft_adapter(*model, cmd.adapter_dir);

    // Text in, text out when the folder has a tokenizer; token ids otherwise (or when asked).
    std::optional<TextTokenizer> tokenizer;
    if (!cmd.prompt_is_ids && TextTokenizer::exists_in(cmd.model_dir)) tokenizer = TextTokenizer::load(cmd.model_dir);
    if (!tokenizer && (cmd.chat || !cmd.stop_strings.empty()))
        throw Error(cmd.model_dir + ": --chat and --stop need a tokenizer (tokenizer.json or tokenizer.model) in the model folder");

    std::vector<int64_t> prompt;
    std::string prompt_text;
    if (tokenizer) {
        if (cmd.chat) {
            ChatOptions chat;
            chat.add_generation_prompt = true;
            prompt_text = tokenizer->apply_chat_template(nlohmann::ordered_json::array({{{"role", "user"}, {"content", cmd.prompt}}}), chat);
            prompt = tokenizer->encode(prompt_text, false).ids;  // the template writes its own BOS
        } else {
            prompt_text = cmd.prompt;
            prompt = tokenizer->encode(prompt_text, true).ids;
        }
    } else {
        prompt = parse_token_ids(cmd.prompt);
    }
    if (prompt.empty()) throw Error("the prompt is empty");

    GenerationOptions g;
    g.max_new_tokens = cmd.max_new_tokens;
    g.sampling.greedy = cmd.greedy;
    g.sampling.temperature = cmd.temperature;
    g.sampling.top_k = cmd.top_k;
    g.sampling.top_p = cmd.top_p;
    g.sampling.repetition_penalty = cmd.repetition_penalty;
    g.sampling.seed = cmd.seed;
    g.eos_token_ids = model->config.eos_token_ids;
    if (tokenizer && tokenizer->eos_id()) g.eos_token_ids.push_back(*tokenizer->eos_id());
    g.eos_token_ids.insert(g.eos_token_ids.end(), cmd.stop_ids.begin(), cmd.stop_ids.end());
    if (!cmd.stop_strings.empty()) {
        g.should_stop = [&](size_t, const std::vector<int64_t>& tokens) {
            std::string text = tokenizer->decode(tokens, true);
            for (const auto& stop : cmd.stop_strings)
                if (text.find(stop) != std::string::npos) return true;
            return false;
        };
    }
    // Streaming decodes the whole output after each token and prints what it adds: a token's text can
    // depend on its neighbours (byte-level pieces of one character, SentencePiece's leading space).
    std::vector<int64_t> streamed;
    std::string shown;
    if (cmd.stream) {
        g.on_token = [&](size_t, int64_t token) {
            streamed.push_back(token);
            nlohmann::json piece = {{"token", token}};
            if (tokenizer) {
                std::string text = tokenizer->decode(streamed, true);
                bool incomplete = text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;  // U+FFFD
                if (!incomplete && text.compare(0, shown.size(), shown) == 0) {
                    piece["text"] = text.substr(shown.size());
                    shown = text;
                } else {
                    piece["text"] = "";
                }
            }
            out << piece.dump() << std::endl;  // flushed: a reader shows each token as it comes
        };
    }
    GenerationResult r = generate(*model->lm, {prompt}, g);

    nlohmann::json j = {{"prompt_tokens", prompt}, {"tokens", r.tokens[0]}, {"finish_reason", finish_reason_name(r.finish[0])}};
    if (tokenizer) {
        std::string text = tokenizer->decode(r.tokens[0], true);
        for (const auto& stop : cmd.stop_strings)  // cut at the stop string, as generation APIs do
            if (auto pos = text.find(stop); pos != std::string::npos) text.resize(pos);
        j["prompt"] = prompt_text;
        j["text"] = text;
    }
    out << j.dump() << "\n";
}

}  // namespace lathe
