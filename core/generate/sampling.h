// Turning next-token logits into a token, with the processors transformers applies, in its order:
// repetition penalty, then temperature, top-k and top-p.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace lathe {

struct SamplingOptions {
    bool greedy = true;
    double temperature = 1.0;
    int64_t top_k = 0;               // 0 = off
    double top_p = 1.0;              // 1 = off
    double repetition_penalty = 1.0; // 1 = off
    uint64_t seed = 0;

    // Throws lathe::Error naming the option when a value is out of range.
    void validate() const;
};

// logits float32 [V] for one sequence; `seen` the tokens it holds so far (prompt and generated).
at::Tensor apply_repetition_penalty(const at::Tensor& logits, const std::vector<int64_t>& seen, double penalty);
// Temperature, top-k, top-p: filtered logits with removed entries at -inf.
at::Tensor warp_logits(at::Tensor logits, const SamplingOptions& options);
// Picks the next token.
int64_t choose_token(const at::Tensor& logits, const std::vector<int64_t>& seen, const SamplingOptions& options,
                     at::Generator& generator);

}  // namespace lathe
