#include <nlohmann/json.hpp>

#include <sstream>

#include "core/adapters/peft.h"
#include "core/cli/commands.h"
#include "core/generate/generate.h"
#include "core/models/loader.h"
#include "core/util/error.h"

namespace lathe {

std::vector<int64_t> parse_token_ids(const std::string& text) {
    std::vector<int64_t> ids;
    std::string piece;
    std::istringstream in(text);
    auto flush = [&] {
        if (piece.empty()) return;
        size_t used = 0;
        long long value = -1;
        try {
            value = std::stoll(piece, &used);
        } catch (const std::exception&) {
        }
        if (used != piece.size() || value < 0)
            throw Error("'" + piece + "' is not a token id; until tokenizers are supported, give the prompt as ids, e.g. \"1 345 22\"");
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

    std::vector<int64_t> prompt = parse_token_ids(cmd.prompt);
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
    g.eos_token_ids.insert(g.eos_token_ids.end(), cmd.stop_ids.begin(), cmd.stop_ids.end());
    GenerationResult r = generate(*model->lm, {prompt}, g);

    nlohmann::json j = {{"prompt", prompt}, {"tokens", r.tokens[0]}, {"finish_reason", finish_reason_name(r.finish[0])}};
    out << j.dump() << "\n";
}

}  // namespace lathe
