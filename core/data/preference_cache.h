// Preference pairs in the tokenized-dataset cache (token_cache.h): the same folder and key scheme as
// supervised rows, the key extended with the preference settings (TRL pipeline, max_length,
// max_prompt_length, Axolotl's dataset type and fields). A pair is two rows of the file, its chosen then
// its rejected sequence, each labelled from the end of its prompt on, so a preference run that reads the
// same data with the same tokenizer and settings tokenizes nothing.
//
// Beside them, DPO's precomputed reference log-probabilities (precompute_ref_log_probs, full finetuning):
// DIR/KEY.reflogps, keyed by the pairs' cache keys, the base model's files and how the reference ran.
// Torch-free.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/data/preference.h"
#include "core/data/token_cache.h"

namespace lathe::data {

struct PreparedPairs {
    std::vector<PreferencePair> pairs;  // file set, line 0: a pair's line is kept only in its problems
    std::vector<Problem> problems;      // the rows the build skipped (a reused cache remembers them)
    TokenCacheKey key;
    bool reused = false;                // came from the cache
    nlohmann::json fingerprint;         // for the run store: path, type, content hash, rows, skipped, tokens, cache, cache_reused
};

// One dataset entry's pairs, from the cache or tokenized (and then cached). `tokenizer_dir` is the model
// folder whose tokenizer the pairs are tokenized with. Throws lathe::Error for a file that cannot be read.
PreparedPairs prepare_preference_dataset(const std::string& path, const PreferenceFormat& format, const std::string& tokenizer_dir,
                                         const PreferenceTokenizeOptions& options, const std::string& cache_dir, double weight);

// The reference log-probability sums of a run's pairs, in the run's pair order.
struct ReferenceLogProbs {
    std::vector<float> chosen, rejected;
};

// DIR/KEY.reflogps when it is intact and made for `key`; nullopt otherwise.
std::optional<ReferenceLogProbs> read_reference_log_probs(const std::string& dir, const TokenCacheKey& key);
// Writes it atomically; returns its path.
std::string write_reference_log_probs(const std::string& dir, const TokenCacheKey& key, const ReferenceLogProbs& values);
std::string reference_log_probs_path(const std::string& dir, const TokenCacheKey& key);

}  // namespace lathe::data
