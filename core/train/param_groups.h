// Which trained parameters go into which optimizer group, with what learning-rate scale and weight
// decay: LoRA's A and B matrices (LoRA+ gives B its own learning rate) and modules_to_save, or, for
// full finetuning, weights with decay and biases/norms without.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "core/train/adamw.h"  // ParamGroup
#include "core/train/train_config.h"

namespace lathe {

// `params`: the trainable tensors by name (the adapter's, or the model's; float32 masters where the
// model is bfloat16). Groups come in a fixed order (what optimizer checkpoints are keyed by):
// lora_A, lora_B, modules_to_save with an adapter; decay, no_decay without one.
std::vector<ParamGroup> make_param_groups(const TrainConfig& c, const std::vector<std::pair<std::string, at::Tensor>>& params);

}  // namespace lathe
