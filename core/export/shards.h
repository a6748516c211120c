// Splitting weights into safetensors shards the way transformers' save_pretrained does
// (huggingface_hub's split_state_dict_into_shards): tensors in order, a new shard when the next one
// would pass the limit, a tensor larger than the limit alone in its own shard. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lathe {

// "5GB" -> 5'000'000'000, "500MiB" -> 500 * 2^20, "1048576" -> bytes. Units: B, KB, MB, GB, TB
// (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024), case-insensitive. Throws naming the text.
uint64_t parse_byte_size(const std::string& text);

// Indices into `sizes`, grouped into shards of at most `max_bytes` each (but see above).
std::vector<std::vector<size_t>> plan_shards(const std::vector<uint64_t>& sizes, uint64_t max_bytes);

// transformers' names: "model.safetensors" for one shard, else "model-00001-of-00003.safetensors".
std::string shard_file_name(size_t index, size_t count);

}  // namespace lathe
