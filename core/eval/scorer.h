// The model side of an evaluation, as lm-evaluation-harness's `hf` backend computes it:
// log-likelihoods of (context, continuation) pairs tokenized as it does (trailing whitespace of the
// context moved to the continuation, the pair encoded whole and split at the context's length, the
// prefix token for an empty context), rolling log-likelihoods over windows of the model's length, and
// greedy generation until a stop string or EOS.
//
// Efficiency: requests that share a context (a multiple-choice question's choices) are grouped; groups
// of similar length are batched (longest first, as the harness orders them); each batch runs the
// shared contexts once into a KV cache, copies it to every continuation of the group, and then runs
// all continuations together. Generation batches left-padded prompts through core/generate's cache.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/eval/task_config.h"
#include "core/models/decoder_lm.h"
#include "core/text/text_tokenizer.h"

namespace lathe::eval {

struct ScorerOptions {
    int64_t batch_size = 16;      // requests (rows) per forward pass
    int64_t max_length = 0;       // 0: the model's max_position_embeddings
    // Called after each batch with requests done so far and the total.
    std::function<void(size_t done, size_t total)> progress;
};

class Scorer {
public:
    Scorer(const DecoderLM& lm, const TextTokenizer& tokenizer, ScorerOptions options);

    // (log-likelihood, is_greedy) per (context, continuation).
    std::vector<std::pair<double, bool>> loglikelihood(const std::vector<std::pair<std::string, std::string>>& requests) const;
    // The log-likelihood of each whole text.
    std::vector<double> loglikelihood_rolling(const std::vector<std::string>& texts) const;
    // Greedy continuations, cut at the first stop string.
    std::vector<std::string> generate_until(const std::vector<std::string>& contexts, const GenerationSpec& spec) const;

    // The harness's tokenization of one pair (exposed for tests and --log-samples).
    std::pair<std::vector<int64_t>, std::vector<int64_t>> encode_pair(const std::string& context, const std::string& continuation) const;
    int64_t max_length() const { return max_length_; }

private:
    struct TokenRequest {
        std::vector<int64_t> context;
        std::vector<int64_t> continuation;
    };
    // `progress` (done, total) after each batch, in the caller's units.
    std::vector<std::pair<double, bool>> score_tokens(const std::vector<TokenRequest>& requests,
                                                      const std::function<void(size_t, size_t)>& progress) const;
    std::vector<int64_t> tok_encode(const std::string& text) const;

    const DecoderLM& lm_;
    const TextTokenizer& tokenizer_;
    ScorerOptions options_;
    int64_t max_length_ = 0;
    int64_t prefix_token_ = 0;
    std::string prefix_text_;
};

}  // namespace lathe::eval
