// Every weight of a loaded model under its Hugging Face name, as pointers into the model: what full
// finetuning trains and saves, and what PEFT's modules_to_save replaces.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "core/models/loader.h"

namespace lathe {

// Tied output weights are listed once (under the embedding's name). Causal LMs only.
std::vector<std::pair<std::string, at::Tensor*>> named_weights(LoadedModel& model);

// The weight called `name` ("lm_head.weight", "model.embed_tokens.weight", ...), including a tied
// lm_head; nullptr when the model has none.
at::Tensor* find_weight(LoadedModel& model, const std::string& name);

}  // namespace lathe
