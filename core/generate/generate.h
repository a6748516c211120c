// Text continuation with a KV cache: one prefill pass over the (left-padded) prompts, then one token
// per step for every unfinished sequence.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/generate/sampling.h"
#include "core/models/decoder_lm.h"

namespace lathe {

struct GenerationOptions {
    int64_t max_new_tokens = 64;
    SamplingOptions sampling;
    std::vector<int64_t> eos_token_ids;                 // stop when one is produced (it is kept)
    std::vector<std::vector<int64_t>> stop_sequences;   // stop when the output ends with one (kept)
    // Decides on text, e.g. stop strings once a tokenizer renders the tokens: called with the
    // sequence index and its new tokens after each step; returns true to stop that sequence.
    std::function<bool(size_t, const std::vector<int64_t>&)> should_stop;
    // Streams tokens as they are chosen.
    std::function<void(size_t, int64_t)> on_token;
};

enum class FinishReason { Length, Eos, StopSequence, Stopped };
const char* finish_reason_name(FinishReason reason);

struct GenerationResult {
    std::vector<std::vector<int64_t>> tokens;  // new tokens per prompt
    std::vector<FinishReason> finish;
};

GenerationResult generate(const DecoderLM& model, const std::vector<std::vector<int64_t>>& prompts,
                          const GenerationOptions& options);

}  // namespace lathe
