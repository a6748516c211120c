// `lathe export`: writes a source (see export_source.h) as a merged Hugging Face model, a PEFT adapter
// or a GGUF file with an Ollama Modelfile, into a temporary folder that is renamed into place when
// complete.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/export/export_source.h"
#include "core/export/merged_export.h"
#include "core/io/dtype.h"

namespace lathe {

struct ExportOptions {
    std::string format = "merged";          // merged, peft, gguf
    std::string output;                     // the folder to create
    std::optional<DType> dtype;             // merged: default the base model's; peft: default as saved
    uint64_t max_shard_bytes = 5'000'000'000;
    bool force = false;                     // replace an existing output
    std::string gguf_type = "f16";          // gguf: f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k
    ExportProgress progress;                // the whole export's fraction done; may throw to cancel
};

// The formats this build can write.
const std::vector<std::string>& export_formats();

// Returns the output folder's absolute path. Throws lathe::Error, with nothing written, for a bad
// combination, an adapter that does not fit its base, an existing output without `force`, or a
// cancellation (the progress callback throwing).
std::string run_export(const ExportSource& source, const ExportOptions& options);

}  // namespace lathe
