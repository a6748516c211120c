// The base model a training run loads: as stored, or for adapter: qlora with its decoder-block linear
// layers in bitsandbytes 4-bit (quantized on load from a float checkpoint, or a pre-quantized checkpoint
// used as it is), as Axolotl + transformers + bitsandbytes load it.
#pragma once

#include <memory>
#include <optional>

#include "core/models/loader.h"
#include "core/quant/quantization_config.h"
#include "core/train/train_config.h"

namespace lathe {

// Loads c.base_model with `options` (device, dtype), quantizing on load for QLoRA. Throws lathe::Error,
// naming the key, when the checkpoint and the run disagree: a pre-quantized checkpoint without
// adapter: qlora, or bnb_4bit_quant_type / bnb_4bit_use_double_quant unlike its config.json.
std::unique_ptr<LoadedModel> load_training_base(const TrainConfig& c, const LoadOptions& options);

}  // namespace lathe
