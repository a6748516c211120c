// The merged export: the adapter folded into the base weights (PEFT's merge_and_unload), written as a
// Hugging Face model folder that transformers' from_pretrained loads: model.safetensors (or shards
// with model.safetensors.index.json), config.json, generation_config.json and the tokenizer files.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/export/export_source.h"
#include "core/io/dtype.h"

namespace lathe {

using ExportProgress = std::function<void(double fraction, const std::string& what)>;

struct MergedExportOptions {
    std::optional<DType> dtype;             // default: the base model's stored dtype
    uint64_t max_shard_bytes = 5'000'000'000;
    ExportProgress progress;                // fraction of this step done (0..1)
};

// Writes into DIR, which must exist (the export's temporary folder). Returns the dtype written.
DType write_merged_model(const ExportSource& source, const std::string& dir, const MergedExportOptions& options);

}  // namespace lathe
