// The adapter export: adapter_config.json + adapter_model.safetensors exactly as peft's
// save_pretrained lays them out, after checking that the adapter fits its base model.
#pragma once

#include <optional>
#include <string>

#include "core/export/export_source.h"
#include "core/io/dtype.h"

namespace lathe {

// Writes into DIR (which must exist). `dtype` converts the adapter's tensors; by default they keep the
// type they were saved in (float32 for adapters Lathe trains, as peft keeps them). Returns the type written.
DType write_peft_adapter(const ExportSource& source, const std::string& dir, std::optional<DType> dtype);

}  // namespace lathe
