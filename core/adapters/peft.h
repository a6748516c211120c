// PEFT LoRA adapters (adapter_config.json + adapter_model.safetensors, as peft's save_pretrained
// writes them): LoRA, rsLoRA and DoRA, attached unmerged to a loaded model or merged into it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/models/loader.h"

namespace lathe {

struct PeftConfig {
    std::string path;
    std::string peft_type;  // "LORA"
    int64_t r = 8;
    double lora_alpha = 8;
    double lora_dropout = 0;
    bool use_rslora = false;
    bool use_dora = false;
    bool fan_in_fan_out = false;
    std::string base_model;
    std::vector<std::string> target_modules;
    std::map<std::string, int64_t> rank_pattern;
    std::map<std::string, double> alpha_pattern;
    std::vector<std::string> modules_to_save;  // modules trained in full and saved whole (e.g. lm_head)

    // alpha / r (or alpha / sqrt(r) with rsLoRA), honouring rank_pattern/alpha_pattern for `module`.
    double scale_for(const std::string& module, int64_t* rank_out = nullptr) const;
};

PeftConfig read_peft_config(const std::string& dir);

// PEFT's rule for target_modules / rank_pattern keys: `key` names the module itself or the end of its
// dotted name ("q_proj" matches "model.layers.0.self_attn.q_proj", not "model.layers.0.xq_proj").
bool module_name_matches(const std::string& module, const std::string& key);

// Attaches the adapter in DIR to every layer it names, and puts its modules_to_save weights in place of
// the model's; errors when a tensor matches no layer of the model or has the wrong shape (an adapter
// made for another base model). Returns layers adapted.
int attach_peft_adapter(LoadedModel& model, const std::string& dir);

// Folds attached adapters into the weights (PEFT's merge_and_unload) and detaches them.
void merge_adapters(LoadedModel& model);

}  // namespace lathe
