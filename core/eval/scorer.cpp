#include "core/eval/scorer.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/argmax.h>
#include <ATen/ops/gather.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "core/eval/doc_format.h"
#include "core/generate/generate.h"
#include "core/util/error.h"

namespace lathe::eval {

namespace {

// Continuation positions scored at once: bounds the [positions, vocab] float32 log-softmax.
constexpr int64_t kScoreChunk = 256;

// Copies the cache rows `rows` (one per continuation) out of a cache with one row per group.
KVCache expand_cache(const KVCache& cache, const at::Tensor& rows) {
    KVCache out;
    out.capacity = cache.capacity;
    out.length = cache.length;
    for (const auto& k : cache.keys) out.keys.push_back(k.index_select(0, rows));
    for (const auto& v : cache.values) out.values.push_back(v.index_select(0, rows));
    out.key_mask = cache.key_mask.index_select(0, rows);
    return out;
}

}  // namespace

Scorer::Scorer(const DecoderLM& lm, const TextTokenizer& tokenizer, ScorerOptions options)
    : lm_(lm), tokenizer_(tokenizer), options_(std::move(options)) {
    if (options_.batch_size < 1) throw Error("--batch-size must be at least 1");
    // The harness's max_length: the config's max_position_embeddings (2048 when it has none).
    max_length_ = options_.max_length > 0 ? options_.max_length
                  : lm.config.max_position_embeddings > 0 ? lm.config.max_position_embeddings : 2048;
    auto prefix = tokenizer.bos_id() ? tokenizer.bos_id() : tokenizer.eos_id();
    if (!prefix) throw Error("the tokenizer has neither a BOS nor an EOS token to condition an empty context on");
    prefix_token_ = *prefix;
    prefix_text_ = tokenizer.decode({prefix_token_}, false);
}

// tok_encode: special tokens as the tokenizer adds them, unless the text already starts with the
// prefix token's text.
std::vector<int64_t> Scorer::tok_encode(const std::string& text) const {
    bool has_prefix = !prefix_text_.empty() && text.compare(0, prefix_text_.size(), prefix_text_) == 0;
    return tokenizer_.encode(text, !has_prefix).ids;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> Scorer::encode_pair(const std::string& context,
                                                                          const std::string& continuation) const {
    if (context.empty()) {
        std::vector<int64_t> cont = tokenizer_.encode(continuation, false).ids;
        if (cont.empty()) throw Error("a continuation encodes to no tokens: '" + continuation + "'");
        if (cont[0] != prefix_token_) return {{prefix_token_}, cont};
        return {{cont[0]}, std::vector<int64_t>(cont.begin() + 1, cont.end())};
    }
    std::string ctx = py_rstrip(context);
    std::string cont = context.substr(ctx.size()) + continuation;
    std::vector<int64_t> whole = tok_encode(ctx + cont);
    std::vector<int64_t> ctx_enc = tok_encode(ctx);
    std::vector<int64_t> cont_enc(whole.begin() + std::min(ctx_enc.size(), whole.size()), whole.end());
    return {ctx_enc, cont_enc};
}

std::vector<std::pair<double, bool>> Scorer::loglikelihood(const std::vector<std::pair<std::string, std::string>>& requests) const {
    std::vector<TokenRequest> tokens;
    tokens.reserve(requests.size());
    for (const auto& [ctx, cont] : requests) {
        auto [c, k] = encode_pair(ctx, cont);
        tokens.push_back(TokenRequest{std::move(c), std::move(k)});
    }
    return score_tokens(tokens, options_.progress);
}

std::vector<double> Scorer::loglikelihood_rolling(const std::vector<std::string>& texts) const {
    // get_rolling_token_windows(context_len=1) + make_disjoint_window, per text.
    std::vector<TokenRequest> windows;
    std::vector<size_t> owner;
    for (size_t t = 0; t < texts.size(); ++t) {
        std::vector<int64_t> tokens = tok_encode(texts[t]);
        if (tokens.empty()) continue;
        const int64_t n = static_cast<int64_t>(tokens.size()), L = max_length_;
        int64_t first = std::min(L, n);
        windows.push_back(TokenRequest{{prefix_token_}, std::vector<int64_t>(tokens.begin(), tokens.begin() + first)});
        owner.push_back(t);
        int64_t predicted = first;
        while (predicted < n) {
            int64_t pred_len = std::min(n - predicted, L);
            int64_t end = predicted + pred_len;
            // input tokens[end - L - 1 : end - 1], made disjoint from the pred_len predicted tokens
            int64_t begin = std::max<int64_t>(0, end - L - 1);
            std::vector<int64_t> input(tokens.begin() + begin, tokens.begin() + (end - 1));
            input.resize(input.size() - (pred_len - 1));
            windows.push_back(TokenRequest{input, std::vector<int64_t>(tokens.begin() + (end - pred_len), tokens.begin() + end)});
            owner.push_back(t);
            predicted += pred_len;
        }
    }
    // Progress in texts, not windows: the caller counted texts.
    std::function<void(size_t, size_t)> progress;
    if (options_.progress)
        progress = [&](size_t done, size_t total) { options_.progress(total ? done * texts.size() / total : texts.size(), texts.size()); };
    auto scores = score_tokens(windows, progress);
    std::vector<double> out(texts.size(), 0.0);
    for (size_t w = 0; w < windows.size(); ++w) out[owner[w]] += scores[w].first;
    return out;
}

std::vector<std::pair<double, bool>> Scorer::score_tokens(const std::vector<TokenRequest>& requests,
                                                          const std::function<void(size_t, size_t)>& progress) const {
    at::NoGradGuard no_grad;
    std::vector<std::pair<double, bool>> results(requests.size());

    // Left-truncate as the harness does: the model sees (context + continuation)[-(max_length + 1):][:-1].
    std::vector<TokenRequest> reqs = requests;
    for (auto& r : reqs) {
        if (r.context.empty() || r.continuation.empty()) throw Error("an empty context or continuation reached the scorer");
        if (static_cast<int64_t>(r.continuation.size()) > max_length_)
            throw Error("a continuation of " + std::to_string(r.continuation.size()) + " tokens is longer than the model's " + std::to_string(max_length_));
        int64_t keep = max_length_ + 1 - static_cast<int64_t>(r.continuation.size());
        if (static_cast<int64_t>(r.context.size()) > keep) r.context.erase(r.context.begin(), r.context.end() - keep);
    }

    // Group requests by context; order groups longest first.
    std::map<std::vector<int64_t>, std::vector<size_t>> by_context;
    for (size_t i = 0; i < reqs.size(); ++i) by_context[reqs[i].context].push_back(i);
    struct Group {
        const std::vector<int64_t>* context;
        std::vector<size_t> members;
        int64_t length;  // context + longest continuation
    };
    std::vector<Group> groups;
    for (auto& [ctx, members] : by_context) {
        int64_t longest = 0;
        for (size_t m : members) longest = std::max<int64_t>(longest, reqs[m].continuation.size());
        groups.push_back(Group{&ctx, members, static_cast<int64_t>(ctx.size()) + longest});
    }
    std::stable_sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) { return a.length > b.length; });

    auto long_opts = at::TensorOptions().dtype(at::kLong);
    size_t done = 0;
    for (size_t g0 = 0; g0 < groups.size();) {
        // A batch: whole groups until it holds batch_size requests (at least one group).
        size_t g1 = g0, rows = 0;
        while (g1 < groups.size() && (g1 == g0 || rows + groups[g1].members.size() <= static_cast<size_t>(options_.batch_size)))
            rows += groups[g1++].members.size();
        const int64_t G = static_cast<int64_t>(g1 - g0), R = static_cast<int64_t>(rows);

        // The shared part of each context (all but its last token), left-padded into one prefill.
        int64_t prefix_len = 0, step_len = 0;
        for (size_t g = g0; g < g1; ++g) {
            prefix_len = std::max<int64_t>(prefix_len, groups[g].context->size() - 1);
            for (size_t m : groups[g].members) step_len = std::max<int64_t>(step_len, reqs[m].continuation.size());
        }
        KVCache shared = lm_.make_cache(G, prefix_len + step_len);
        if (prefix_len > 0) {
            at::Tensor ids = at::zeros({G, prefix_len}, long_opts), mask = at::zeros({G, prefix_len}, long_opts),
                       pos = at::zeros({G, prefix_len}, long_opts);
            auto ids_a = ids.accessor<int64_t, 2>(), mask_a = mask.accessor<int64_t, 2>(), pos_a = pos.accessor<int64_t, 2>();
            for (int64_t g = 0; g < G; ++g) {
                const auto& ctx = *groups[g0 + g].context;
                const int64_t n = static_cast<int64_t>(ctx.size()) - 1, pad = prefix_len - n;
                for (int64_t t = 0; t < n; ++t) ids_a[g][pad + t] = ctx[t], mask_a[g][pad + t] = 1, pos_a[g][pad + t] = t;
            }
            lm_.hidden_states(ids, mask, pos, &shared);
        }

        // Every continuation row: the context's last token then the continuation but its last token,
        // right-padded; row r's logits at step t predict continuation token t.
        std::vector<int64_t> row_group;
        std::vector<size_t> row_request;
        for (int64_t g = 0; g < G; ++g)
            for (size_t m : groups[g0 + g].members) row_group.push_back(g), row_request.push_back(m);
        at::Tensor ids = at::zeros({R, step_len}, long_opts), mask = at::zeros({R, step_len}, long_opts),
                   pos = at::zeros({R, step_len}, long_opts);
        auto ids_a = ids.accessor<int64_t, 2>(), mask_a = mask.accessor<int64_t, 2>(), pos_a = pos.accessor<int64_t, 2>();
        for (int64_t r = 0; r < R; ++r) {
            const TokenRequest& q = reqs[row_request[r]];
            const int64_t start = static_cast<int64_t>(q.context.size()) - 1, n = static_cast<int64_t>(q.continuation.size());
            for (int64_t t = 0; t < n; ++t) {
                ids_a[r][t] = t == 0 ? q.context.back() : q.continuation[t - 1];
                mask_a[r][t] = 1;
                pos_a[r][t] = start + t;
            }
            for (int64_t t = n; t < step_len; ++t) pos_a[r][t] = start + n - 1;  // padding after the row's end
        }
        at::Tensor rows_index = at::tensor(row_group, long_opts).to(lm_.device());
        KVCache cache = expand_cache(shared, rows_index);
        at::Tensor hidden = lm_.hidden_states(ids, mask, pos, &cache);  // [R, step_len, H]

        for (int64_t r = 0; r < R; ++r) {
            const TokenRequest& q = reqs[row_request[r]];
            const int64_t n = static_cast<int64_t>(q.continuation.size());
            double total = 0;
            bool greedy = true;
            for (int64_t s = 0; s < n; s += kScoreChunk) {
                const int64_t len = std::min(kScoreChunk, n - s);
                at::Tensor logp = at::log_softmax(lm_.logits(hidden[r].narrow(0, s, len)).to(at::kFloat), -1).cpu();  // [len, V]
                at::Tensor target = at::tensor(std::vector<int64_t>(q.continuation.begin() + s, q.continuation.begin() + s + len), long_opts);
                total += logp.gather(1, target.unsqueeze(1)).sum().item<double>();
                greedy = greedy && at::argmax(logp, -1).eq(target).all().item<bool>();
            }
            results[row_request[r]] = {total, greedy};
        }
        done += rows;
        if (progress) progress(done, requests.size());
        g0 = g1;
    }
    return results;
}

std::vector<std::string> Scorer::generate_until(const std::vector<std::string>& contexts, const GenerationSpec& spec) const {
    const int64_t max_ctx = max_length_ - spec.max_gen_toks;
    if (max_ctx <= 0)
        throw Error("max_gen_toks (" + std::to_string(spec.max_gen_toks) + ") must be less than the model's length (" + std::to_string(max_length_) + ")");
    // The stop strings: `until` and the EOS token's text, as the harness adds it.
    std::vector<std::string> until = spec.until;
    std::vector<int64_t> eos_ids = lm_.config.eos_token_ids;
    if (tokenizer_.eos_id()) {
        eos_ids.push_back(*tokenizer_.eos_id());
        std::string eos_text = tokenizer_.decode({*tokenizer_.eos_id()}, false);
        if (std::find(until.begin(), until.end(), eos_text) == until.end()) until.push_back(eos_text);
    }
    const std::string bos_text = tokenizer_.bos_id() ? tokenizer_.decode({*tokenizer_.bos_id()}, false) : std::string();

    std::vector<std::vector<int64_t>> prompts;
    for (const auto& ctx : contexts) {
        bool has_bos = !bos_text.empty() && ctx.compare(0, bos_text.size(), bos_text) == 0;
        auto ids = tokenizer_.encode(ctx, !has_bos).ids;
        if (static_cast<int64_t>(ids.size()) > max_ctx) ids.erase(ids.begin(), ids.end() - max_ctx);
        if (ids.empty()) ids.push_back(prefix_token_);
        prompts.push_back(std::move(ids));
    }
    // Longest prompts first, in batches.
    std::vector<size_t> order(contexts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return prompts[a].size() > prompts[b].size(); });

    auto cut = [&](std::string text) {
        for (const auto& term : until)
            if (!term.empty())
                if (auto p = text.find(term); p != std::string::npos) text.resize(p);
        return text;
    };
    std::vector<std::string> out(contexts.size());
    size_t done = 0;
    for (size_t b0 = 0; b0 < order.size(); b0 += static_cast<size_t>(options_.batch_size)) {
        size_t b1 = std::min(order.size(), b0 + static_cast<size_t>(options_.batch_size));
        std::vector<std::vector<int64_t>> batch;
        for (size_t i = b0; i < b1; ++i) batch.push_back(prompts[order[i]]);
        GenerationOptions g;
        g.max_new_tokens = spec.max_gen_toks;
        g.sampling.greedy = true;
        g.eos_token_ids = eos_ids;
        g.should_stop = [&](size_t, const std::vector<int64_t>& tokens) {
            std::string text = tokenizer_.decode(tokens, false);
            for (const auto& term : until)
                if (!term.empty() && text.find(term) != std::string::npos) return true;
            return false;
        };
        GenerationResult r = generate(lm_, batch, g);
        for (size_t i = b0; i < b1; ++i) out[order[i]] = cut(tokenizer_.decode(r.tokens[i - b0], true));
        done += b1 - b0;
        if (options_.progress) options_.progress(done, contexts.size());
    }
    return out;
}

}  // namespace lathe::eval
