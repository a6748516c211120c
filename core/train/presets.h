// The Train page's presets ("Quick LoRA", ...): a method and the training settings that suit it, applied
// to a run configuration while its model, data and output folder stay. Torch-free, so the Studio and
// the tests share one definition.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/train/train_config.h"

namespace lathe {

struct TrainPreset {
    std::string name;         // "Quick LoRA"
    std::string description;  // one line: what it is for
};

const std::vector<TrainPreset>& train_presets();

// Applies the preset named `name` to `config` (method, adapter, batch, schedule, checkpointing, saving);
// false, with `config` unchanged, for a name that is not a preset. "Continued pretraining" also treats
// the datasets after the first as general text to replay (weight 0.25 where it was 1) and makes a probe
// of each dataset (probe_datasets "domain", "general": 64 rows each).
bool apply_train_preset(TrainConfig& config, std::string_view name);

}  // namespace lathe
