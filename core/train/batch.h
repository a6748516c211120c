// Training examples and the batches made of them.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lathe {

struct Example {
    std::vector<int64_t> input_ids;
    std::vector<int64_t> labels;  // same length; -100 = not trained on
};

// Pretokenized JSONL: one object per line with "input_ids" and optional "labels" (default: the
// input ids, i.e. train on every token). Errors name the file and line.
std::vector<Example> read_pretokenized_jsonl(const std::string& path);

struct Batch {
    at::Tensor input_ids;       // int64 [B, T]
    at::Tensor labels;          // int64 [B, T], -100 where not trained
    at::Tensor attention_mask;  // int64 [B, T], 0 on padding
    at::Tensor position_ids;    // packed rows: int64 [B, T], restarting at 0 for each sequence
    at::Tensor sequence_ids;    // packed rows: int64 [B, T], 1, 2, ... per packed sequence, 0 on padding
    int64_t label_tokens = 0;   // tokens predicted: labels[:, 1:] != -100
};

// Pads on the right to the longest row with `pad_id`, mask 0 and label -100.
Batch collate(const std::vector<Example>& rows, int64_t pad_id);

// Sample packing: consecutive examples share a row of at most `max_tokens` (a row closes when the
// next example does not fit), in the order given.
using Pack = std::vector<const Example*>;
std::vector<Pack> pack_examples(const std::vector<const Example*>& ordered, int64_t max_tokens);
// One row per pack: sequences side by side, each with its own positions and attention, and no
// sequence trained to predict the first token of the next.
Batch collate_packed(const std::vector<Pack>& packs, int64_t pad_id);

}  // namespace lathe
