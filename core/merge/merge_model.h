// `lathe merge`: a mergekit recipe carried out tensor by tensor. For each output tensor, one tensor per
// input model is read (a view of the mapped file), merged, converted and appended to its safetensors
// shard, so peak memory is about one tensor per input whatever the model size. The output folder
// (shards, model.safetensors.index.json when sharded, config.json, generation_config.json, the base's
// tokenizer files and chat template, mergekit_config.yml) is built in a staged folder and appears only
// when complete.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/merge/merge_config.h"
#include "core/merge/merge_inputs.h"

namespace lathe::merge {

struct MergeOptions {
    std::string output{};
    bool force = false;                        // replace OUTPUT
    uint64_t max_shard_bytes = 5'000'000'000;
    uint64_t seed = 0;                         // DARE's random drop
    std::string recipe_text{};                 // written as mergekit_config.yml ("" = none)
    ResolveModel resolve{};                    // reference -> folder; default: the reference is a folder
    std::function<void(double fraction, const std::string& tensor)> progress{};
};

struct MergeResult {
    int64_t tensors = 0;
    int64_t parameters = 0;
    uint64_t bytes_written = 0;
    size_t shards = 0;
};

MergeResult merge_models(const MergeConfig& config, const MergeOptions& options);

}  // namespace lathe::merge
