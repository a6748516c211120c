// LoRA adapters for training: which layers get one, fresh initialisation as PEFT does it, the
// trainable tensors under PEFT's names, and saving in PEFT's layout (adapter_config.json +
// adapter_model.safetensors) so peft and transformers load the result.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/adapters/peft.h"
#include "core/models/loader.h"

namespace lathe {

struct LoraOptions {
    int64_t r = 16;
    double alpha = 32;
    double dropout = 0.0;
    bool rslora = false;
    bool dora = false;
    // Module names (matched at the end of the full name on a dot boundary, as PEFT does), or
    // {"all-linear"}: every linear layer but the output head.
    std::vector<std::string> target_modules = {"q_proj", "v_proj"};

    double scale() const;
    void validate() const;  // throws lathe::Error naming the option
};

// The layers `options` selects; throws when none match (naming the model's linear layers).
std::vector<Linear*> lora_targets(LoadedModel& model, const LoraOptions& options);

// Adds fresh adapters: A from kaiming-uniform(a=sqrt(5)) as nn.Linear initialises it, B zero, so the
// model's output is unchanged at step 0; DoRA magnitudes start at the weight rows' norms.
int add_lora(LoadedModel& model, const LoraOptions& options, uint64_t seed);

// PEFT's modules_to_save: these modules (e.g. lm_head) train in full beside the adapter and are saved
// whole in it. Throws for a name that matches nothing, or a weight tied to another.
void add_modules_to_save(LoadedModel& model, const std::vector<std::string>& modules);

// Makes the attached adapters trainable (own storage, requires_grad, in `master_dtype` — float32 master
// weights for a bfloat16 model; undefined keeps their dtype) and returns them with PEFT's tensor names
// ("base_model.model.<module>.lora_A.weight", ...).
std::vector<std::pair<std::string, at::Tensor>> make_lora_trainable(LoadedModel& model,
                                                                     std::optional<at::ScalarType> master_dtype = std::nullopt);

// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors as peft's save_pretrained does.
void save_peft_adapter(LoadedModel& model, const PeftConfig& config, const std::string& dir);

// The options an adapter saved with `config` was made with (rank, alpha, dropout, rsLoRA, DoRA, targets).
LoraOptions lora_options_of(const PeftConfig& config);

// The PeftConfig that describes adapters made with `options` on `model`.
PeftConfig peft_config_for(const LoadedModel& model, const LoraOptions& options, const std::string& base_model);

}  // namespace lathe
