#include "core/train/param_groups.h"

namespace lathe {

std::vector<ParamGroup> make_param_groups(const TrainConfig& c, const std::vector<std::pair<std::string, at::Tensor>>& params) {
    if (uses_lora(c)) {
        ParamGroup a{.name = "lora_A", .params = {}, .lr_scale = 1.0, .weight_decay = c.weight_decay};
        ParamGroup b{.name = "lora_B", .params = {}, .lr_scale = c.loraplus_lr_ratio > 0 ? c.loraplus_lr_ratio : 1.0, .weight_decay = c.weight_decay};
        ParamGroup whole{.name = "modules_to_save", .params = {}, .lr_scale = 1.0, .weight_decay = c.weight_decay};
        for (const auto& [name, p] : params) {
            if (name.find(".lora_B.") != std::string::npos) b.params.push_back(p);
            else if (name.find(".lora_") != std::string::npos) a.params.push_back(p);
            else whole.params.push_back(p);
        }
        return {a, b, whole};
    }
    // No decay on biases and norms (1-D tensors), as transformers' Trainer.
    ParamGroup decay{.name = "decay", .params = {}, .lr_scale = 1.0, .weight_decay = c.weight_decay};
    ParamGroup no_decay{.name = "no_decay", .params = {}, .lr_scale = 1.0, .weight_decay = 0.0};
    for (const auto& [name, p] : params) (p.dim() >= 2 ? decay : no_decay).params.push_back(p);
    return {decay, no_decay};
}

}  // namespace lathe
