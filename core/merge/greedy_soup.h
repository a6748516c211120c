// Greedy soup (Wortsman et al., "Model soups", 2022) over finetunes of one base: each ingredient's
// held-out loss is measured, the ingredients are tried best first, and each joins the soup (a uniform
// average of its members, mergekit's `linear` with equal weights) when the soup's held-out loss does not
// rise with it; one that raises the loss is left out and the next is tried. The uniform soup of every
// ingredient is measured beside it. Losses come from the trainer's own evaluation code (the held-out file
// is rendered as a `probe_datasets` entry and scored with evaluation_loss); every soup is written by
// `lathe merge`'s streaming merge and read back memory-mapped, so a candidate costs one model on disk and
// its evaluation, never more than one model in memory. Part of lathe_core (it loads models).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/merge/merge_inputs.h"

namespace lathe::merge {

struct SoupOptions {
    std::vector<std::string> inputs;     // model folders or run:ID[:STEP], all finetunes of one base
    std::string held_out;                // the held-out dataset (any file `datasets:` reads)
    std::string held_out_type;           // its row type ("" = detected per row)
    int64_t max_rows = 0;                // > 0: at most this many held-out rows (drawn with `seed`)
    int64_t sequence_len = 2048;
    int64_t batch_size = 8;
    uint64_t seed = 42;
    std::string device = "cpu";
    std::string dtype;                   // compute dtype of the evaluation ("" = the checkpoint's)
    std::string output;                  // the greedy soup's folder
    std::string uniform_output;          // "" = the uniform soup is measured but not kept
    bool force = false;                  // replace existing outputs
    uint64_t max_shard_bytes = 5'000'000'000;
    ResolveModel resolve{};              // reference -> folder (run inputs); default: the reference is a folder
    std::function<void(const nlohmann::json& event)> report{};  // the events docs/merge.md lists
    std::function<void()> between_tensors{};  // called between tensors while a soup is written (it may throw to cancel)
};

struct SoupIngredient {
    std::string input;                   // as given
    double loss = 0;                     // its own held-out loss
    bool kept = false;
    std::optional<double> soup_loss;     // the loss of the soup tried with it (none for the first, which starts the soup)
};

struct SoupResult {
    std::vector<SoupIngredient> ingredients;  // in the order tried: by held-out loss, lowest first (ties in input order)
    std::vector<std::string> kept;            // the greedy soup's members
    double greedy_loss = 0;
    double uniform_loss = 0;
    int64_t held_out_rows = 0;
};

// Throws lathe::Error before any evaluation for inputs that cannot be merged (docs/merge.md's checks)
// and for outputs that exist without `force`.
SoupResult greedy_soup(const SoupOptions& options);

// The mergekit recipe of a uniform soup: `linear`, weight 1 for each model.
std::string uniform_soup_recipe(const std::vector<std::string>& models);

}  // namespace lathe::merge
