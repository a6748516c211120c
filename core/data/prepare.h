// One dataset entry of a run's config, made ready for training: its file read row by row, each row turned
// into a Sample (detected or configured type, Axolotl's column keys), rendered into tokens and labels, and
// kept in the tokenized-dataset cache. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/data/render.h"
#include "core/data/token_cache.h"
#include "core/train/train_config.h"

namespace lathe::data {

struct PrepareOptions {
    std::string tokenizer_dir;  // base_model (the tokenizer is loaded only when a row needs it)
    int64_t sequence_len = 0;
    Truncation truncation = Truncation::right;
    bool train_on_inputs = false;
    bool strict = false;        // the first row that cannot be used throws (lathe::Error naming file and line)
    std::string cache_dir;      // where the tokenized rows are kept
};

struct PreparedDataset {
    std::unique_ptr<TokenRows> rows;
    bool reused = false;                  // came from the cache
    std::string rebuilt_because;          // a cache file was there but damaged or stale
    int64_t skipped = 0;                  // rows that could not be used (each one in problems)
    nlohmann::json fingerprint;           // for the run store: path, type, content hash, rows, skipped, cache
};

// Throws lathe::Error for a file that cannot be read at all, and (strict) for the first bad row.
PreparedDataset prepare_dataset(const DatasetSpec& spec, const PrepareOptions& options);

}  // namespace lathe::data
