// How a run trains, worked out from its config in one place: the Train page's method, the Runs table's
// Method column and the export wizard's adapter-or-full choice all read it from here. Torch-free.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/train/train_config.h"

namespace lathe {

enum class TrainingMethod {
    full,    // every weight (or those unfrozen_parameters names)
    lora,    // adapter: lora
    rslora,  // adapter: lora with peft_use_rslora (alpha / sqrt(r) scaling)
    dora,    // adapter: lora with peft_use_dora (weight-decomposed)
};

TrainingMethod training_method(const TrainConfig& config);
// The config keys that choose `method` (adapter, peft_use_rslora, peft_use_dora); nothing else changes,
// but full finetuning also turns load_in_4bit off (4-bit weights cannot be trained in full).
void set_training_method(TrainConfig& config, TrainingMethod method);

// Trains an adapter beside frozen base weights (what a PEFT export needs).
inline bool trains_adapter(TrainingMethod m) { return m != TrainingMethod::full; }
// Every dataset is raw text (type: text): continued pretraining rather than instruction tuning.
bool is_continued_pretraining(const TrainConfig& config);

// full, lora, rslora, dora (as the config keys spell them).
const char* to_string(TrainingMethod method);
std::optional<TrainingMethod> parse_training_method(std::string_view name);
// What people call it: full, LoRA, rsLoRA, DoRA.
const char* display_name(TrainingMethod method);
// The method as the Studio shows a run's: display_name, and QLoRA for an adapter on 4-bit base weights
// ("QLoRA", "QLoRA (rsLoRA)", "QLoRA (DoRA)"); preference tuning names its objective first
// ("DPO · LoRA", "ORPO · QLoRA", "SimPO · full").
std::string method_label(const TrainConfig& config);
// DPO, IPO, ORPO, SimPO for rl: dpo, ipo, orpo, simpo; nullptr for anything else.
const char* preference_display_name(const std::string& rl);

}  // namespace lathe
