// The tensors a training run hands its optimizer, worked out from the run's configuration and the model's
// config.json alone (torch-free): names, shapes and dtypes in the order the trainer lists them
// (make_full_trainable's named_weights order, or make_lora_trainable's adapters layer by layer and then
// modules_to_save), with the optimizer group each falls in (make_param_groups). The memory estimate deals
// them out among data parallel ranks as the run does (core/train/zero_partition.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/models/config.h"
#include "core/train/train_config.h"

namespace lathe {

struct TrainedTensor {
    std::string name;
    std::vector<int64_t> shape;
    int64_t element_size = 4;   // bytes: float32 (adapters, masters), the compute dtype for modules_to_save
    int group = 0;              // make_param_groups' order: lora_A, lora_B, modules_to_save; or decay, no_decay
    bool output_layer = false;  // lm_head's own tensors (GradientSync reduces them first)

    int64_t numel() const;
};

// `bf16`: the resolved compute precision. Throws lathe::Error where the run itself would refuse
// (unfrozen_parameters matching nothing, a modules_to_save naming no module).
std::vector<TrainedTensor> trained_tensors(const TrainConfig& config, const ModelConfig& model, bool bf16);

}  // namespace lathe
