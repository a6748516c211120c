// README.md for an export: the base model, the method and adapter settings, the data, the steps and
// the final metrics, from the run store when the export came from a run. Torch-free.
#pragma once

#include <string>

#include "core/export/export_source.h"
#include "core/io/dtype.h"

namespace lathe {

// `format` is "merged", "peft" or "gguf"; `what` describes the files (e.g. "GGUF Q8_0").
std::string model_card(const ExportSource& source, const std::string& format, const std::string& what);

}  // namespace lathe
