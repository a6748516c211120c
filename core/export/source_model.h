// The model an export writes: the weights folder loaded as stored (memory-mapped, no copy) and, when
// the source has one, the PEFT adapter attached unmerged with its tensors in float32, so merging loses
// nothing to the base model's dtype.
#pragma once

#include <memory>

#include "core/export/export_source.h"
#include "core/models/loader.h"

namespace lathe {

// Throws lathe::Error, naming the tensor and the folders, when the adapter does not fit the base
// model (a tensor matching no layer, a wrong shape, target modules the model does not have).
std::unique_ptr<LoadedModel> load_export_model(const ExportSource& source);

}  // namespace lathe
