#include "core/generate/sampling.h"

#include <ATen/ops/argmax.h>
#include <ATen/ops/cumsum.h>
#include <ATen/ops/multinomial.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/topk.h>
#include <ATen/ops/where.h>

#include <limits>

#include "core/util/error.h"

namespace lathe {

void SamplingOptions::validate() const {
    if (greedy) return;
    if (!(temperature > 0)) throw Error("temperature must be > 0 (use --greedy for deterministic decoding)");
    if (top_k < 0) throw Error("top-k must be >= 0");
    if (!(top_p > 0 && top_p <= 1)) throw Error("top-p must be in (0, 1]");
    if (!(repetition_penalty > 0)) throw Error("repetition penalty must be > 0");
}

at::Tensor apply_repetition_penalty(const at::Tensor& logits, const std::vector<int64_t>& seen, double penalty) {
    if (penalty == 1.0 || seen.empty()) return logits;
    at::Tensor index = at::tensor(seen, at::TensorOptions().dtype(at::kLong)).to(logits.device());
    at::Tensor score = logits.index_select(0, index);
    score = at::where(score < 0, score * penalty, score / penalty);
    return logits.scatter(0, index, score);
}

at::Tensor warp_logits(at::Tensor logits, const SamplingOptions& options) {
    const double neg_inf = -std::numeric_limits<double>::infinity();
    if (options.temperature != 1.0) logits = logits / options.temperature;
    if (options.top_k > 0 && options.top_k < logits.size(0)) {
        // Keep everything at least as large as the k-th largest, as transformers' TopKLogitsWarper.
        at::Tensor kth = std::get<0>(at::topk(logits, options.top_k)).select(0, options.top_k - 1);
        logits = logits.masked_fill(logits < kth, neg_inf);
    }
    if (options.top_p < 1.0) {
        // TopPLogitsWarper: sort ascending, drop the low tail whose mass is <= 1 - top_p, keep >= 1 token.
        auto [sorted, order] = at::sort(logits, 0, false);
        at::Tensor cumulative = at::cumsum(at::softmax(sorted, 0), 0);
        at::Tensor remove_sorted = cumulative <= (1.0 - options.top_p);
        remove_sorted.index_put_({-1}, false);
        at::Tensor remove = remove_sorted.scatter(0, order, remove_sorted);
        logits = logits.masked_fill(remove, neg_inf);
    }
    return logits;
}

int64_t choose_token(const at::Tensor& logits, const std::vector<int64_t>& seen, const SamplingOptions& options,
                     at::Generator& generator) {
    at::Tensor scores = apply_repetition_penalty(logits.to(at::kFloat), seen, options.repetition_penalty);
    if (options.greedy) return at::argmax(scores).item<int64_t>();
    at::Tensor probs = at::softmax(warp_logits(scores, options), 0);
    return at::multinomial(probs.cpu(), 1, false, generator).item<int64_t>();
}

}  // namespace lathe
