// The models a merge reads: opened (headers and mappings only) and checked against each other before
// anything is written — the same architecture, layer count and vocabulary, the same tensor names and
// shapes, floating-point weights. Every mismatch is reported at once, naming the model and the tensor.
// Torch-free.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/merge/merge_config.h"

namespace lathe::merge {

struct InputModelFiles {
    std::string reference;  // as the recipe names it
    std::string label;      // for messages: "models[1] (/path/to/a)" or "base_model (/path)"
    std::string dir;        // the folder of full weights read
    Checkpoint weights;
    nlohmann::json config;  // config.json
    const Parameters* parameters = nullptr;  // the input's own parameters (nullptr: only the top-level ones)
};

// One merge's inputs in mergekit's order: for the methods with a base, the base first and the others in
// the recipe's order; for linear the recipe's order, the base (when given and not listed) last.
struct MergeInputs {
    std::vector<InputModelFiles> models;
    std::optional<size_t> base;  // index into models
    size_t donor = 0;            // config, tokenizer and chat template come from here (the base, else the first)
    int64_t num_layers = 0;
};

// Turns a model reference into a folder of full weights (run:ID[:STEP] inputs go through this).
using ResolveModel = std::function<std::string(const std::string& reference)>;

// Opens and checks; throws lathe::Error listing every problem.
MergeInputs open_merge_inputs(const MergeConfig& config, const ResolveModel& resolve);

// Which layer a tensor belongs to ("model.layers.3.mlp.up_proj.weight" -> 3), if any.
std::optional<int64_t> layer_of(const std::string& tensor_name);

}  // namespace lathe::merge
