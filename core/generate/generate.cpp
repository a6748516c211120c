#include "core/generate/generate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/full.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include <algorithm>

#include "core/util/error.h"

namespace lathe {

const char* finish_reason_name(FinishReason reason) {
    switch (reason) {
        case FinishReason::Length: return "length";
        case FinishReason::Eos: return "eos";
        case FinishReason::StopSequence: return "stop_sequence";
        case FinishReason::Stopped: return "stopped";
    }
    return "?";
}

namespace {
bool ends_with(const std::vector<int64_t>& tokens, const std::vector<int64_t>& tail) {
    return !tail.empty() && tokens.size() >= tail.size() && std::equal(tail.rbegin(), tail.rend(), tokens.rbegin());
}
}  // namespace

GenerationResult generate(const DecoderLM& model, const std::vector<std::vector<int64_t>>& prompts,
                          const GenerationOptions& options) {
    options.sampling.validate();
    if (prompts.empty()) throw Error("nothing to generate from: no prompts");
    if (options.max_new_tokens < 0) throw Error("max new tokens must be >= 0");
    at::NoGradGuard no_grad;

    const int64_t B = static_cast<int64_t>(prompts.size());
    int64_t longest = 0;
    for (const auto& p : prompts) {
        if (p.empty()) throw Error("a prompt is empty; give at least one token");
        longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
    }
    const int64_t capacity = longest + options.max_new_tokens;
    if (model.config.arch->positions == Positions::Learned && capacity > model.config.max_position_embeddings)
        throw Error("prompt plus max new tokens (" + std::to_string(capacity) + ") exceeds the model's " +
                    std::to_string(model.config.max_position_embeddings) + " positions");

    // Left-pad so every prompt ends at the same column; positions count real tokens only, as in
    // transformers' generate (padding positions are never attended to).
    auto long_opts = at::TensorOptions().dtype(at::kLong);
    at::Tensor ids = at::zeros({B, longest}, long_opts);
    at::Tensor mask = at::zeros({B, longest}, long_opts);
    at::Tensor positions = at::zeros({B, longest}, long_opts);
    std::vector<int64_t> next_position(B);
    for (int64_t b = 0; b < B; ++b) {
        const auto& p = prompts[b];
        int64_t pad = longest - static_cast<int64_t>(p.size());
        for (size_t i = 0; i < p.size(); ++i) {
            ids[b][pad + i] = p[i];
            mask[b][pad + i] = 1;
            positions[b][pad + i] = static_cast<int64_t>(i);
        }
        next_position[b] = static_cast<int64_t>(p.size());
    }

    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.sampling.seed);
    KVCache cache = model.make_cache(B, capacity);
    GenerationResult result;
    result.tokens.resize(B);
    result.finish.assign(B, FinishReason::Length);
    std::vector<bool> done(B, false);
    std::vector<std::vector<int64_t>> seen = prompts;

    at::Tensor logits = model.forward(ids, mask, positions, &cache);  // [B, T, V]
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
        at::Tensor last = logits.select(1, logits.size(1) - 1).to(at::kFloat).cpu();  // [B, V]
        at::Tensor next = at::zeros({B, 1}, long_opts);
        for (int64_t b = 0; b < B; ++b) {
            if (done[b]) continue;
            int64_t token = choose_token(last[b], seen[b], options.sampling, generator);
            next[b][0] = token;
            seen[b].push_back(token);
            result.tokens[b].push_back(token);
            if (options.on_token) options.on_token(b, token);
            if (std::find(options.eos_token_ids.begin(), options.eos_token_ids.end(), token) != options.eos_token_ids.end()) {
                done[b] = true;
                result.finish[b] = FinishReason::Eos;
            } else if (std::any_of(options.stop_sequences.begin(), options.stop_sequences.end(),
                                   [&](const auto& s) { return ends_with(result.tokens[b], s); })) {
                done[b] = true;
                result.finish[b] = FinishReason::StopSequence;
            } else if (options.should_stop && options.should_stop(b, result.tokens[b])) {
                done[b] = true;
                result.finish[b] = FinishReason::Stopped;
            }
        }
        if (std::all_of(done.begin(), done.end(), [](bool d) { return d; }) || step + 1 == options.max_new_tokens) break;
        at::Tensor step_mask = at::ones({B, 1}, long_opts);
        at::Tensor step_positions = at::zeros({B, 1}, long_opts);
        for (int64_t b = 0; b < B; ++b) {
            step_positions[b][0] = next_position[b]++;
            if (done[b]) step_mask[b][0] = 0;  // finished rows ride along as padding
        }
        logits = model.forward(next, step_mask, step_positions, &cache);
    }
    return result;
}

}  // namespace lathe
