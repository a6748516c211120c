#include "core/export/source_model.h"

#include <filesystem>

#include "core/adapters/peft.h"
#include "core/io/tensor_io.h"
#include "core/models/named_weights.h"
#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;

std::unique_ptr<LoadedModel> load_export_model(const ExportSource& source) {
    LoadOptions options;
    if (!source.adapter_dir.empty()) options.load_in_4bit = source.quantize_base;  // the base a QLoRA adapter trained on
    auto model = load_model(source.weights_dir, options);
    if (!model->lm)
        throw Error(source.weights_dir + ": a " + model->config.model_type + " classifier; export supports causal language models");
    if (source.adapter_dir.empty()) return model;

    PeftConfig config = read_peft_config(source.adapter_dir);
    attach_peft_adapter(*model, source.adapter_dir);  // checks every tensor against the base model
    // Every target module the adapter names must exist in this model (an adapter whose file holds no
    // tensor for a target was made for a different architecture).
    for (const auto& target : config.target_modules) {
        if (target == "all-linear") continue;
        bool found = false;
        for (Linear* layer : model->linears()) found = found || module_name_matches(layer->name, target);
        if (!found)
            throw Error(config.path + ": target module '" + target + "' matches no layer of the " + model->config.model_type +
                        " model in " + source.base_model + "; was the adapter made for another base model?");
    }

    // attach_peft_adapter converted the adapter to the model's dtype; take the stored values instead.
    auto stored = load_safetensors((fs::path(source.adapter_dir) / "adapter_model.safetensors").string());
    auto float32 = [&](const std::string& name) { return stored.at(name).to(at::kFloat).clone(); };
    for (Linear* layer : model->linears()) {
        if (!layer->lora) continue;
        const std::string prefix = "base_model.model." + layer->name;
        layer->lora->A = float32(prefix + ".lora_A.weight");
        layer->lora->B = float32(prefix + ".lora_B.weight");
        if (layer->lora->magnitude.defined())
            layer->lora->magnitude = float32(stored.count(prefix + ".lora_magnitude_vector") ? prefix + ".lora_magnitude_vector"
                                                                                              : prefix + ".lora_magnitude_vector.weight");
    }
    for (const auto& name : model->saved_modules) *find_weight(*model, name) = float32("base_model.model." + name);
    return model;
}

}  // namespace lathe
