#include "core/train/lora.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/tensor_io.h"
#include "core/models/named_weights.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;

double LoraOptions::scale() const { return rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r); }

void LoraOptions::validate() const {
    if (r <= 0) throw Error("lora_r must be positive, got " + std::to_string(r));
    if (!(alpha > 0)) throw Error("lora_alpha must be positive, got " + std::to_string(alpha));
    if (!(dropout >= 0 && dropout < 1)) throw Error("lora_dropout must be in [0, 1), got " + std::to_string(dropout));
    if (target_modules.empty()) throw Error("lora_target_modules is empty; name modules (e.g. q_proj, v_proj) or use all-linear");
}

std::vector<Linear*> lora_targets(LoadedModel& model, const LoraOptions& options) {
    bool all_linear = options.target_modules.size() == 1 && options.target_modules[0] == "all-linear";
    std::vector<Linear*> out;
    std::set<std::string> matched;
    for (Linear* layer : model.linears()) {
        bool is_head = model.lm && layer == &model.lm->lm_head;
        if (model.classifier && layer == &model.classifier->classifier) is_head = true;
        if (all_linear) {
            if (!is_head) out.push_back(layer);
            continue;
        }
        for (const auto& t : options.target_modules)
            if (module_name_matches(layer->name, t)) {
                out.push_back(layer);
                matched.insert(t);
                break;
            }
    }
    if (out.empty()) {
        std::set<std::string> names;
        for (Linear* layer : model.linears()) names.insert(layer->name.substr(layer->name.rfind('.') + 1));
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        throw Error("lora_target_modules matches no layer of this " + model.config.model_type + " model (its linear layers: " + list + ")");
    }
    for (const auto& t : options.target_modules)
        if (!all_linear && !matched.count(t))
            throw Error("lora_target_modules: '" + t + "' matches no layer of this " + model.config.model_type + " model");
    return out;
}

int add_lora(LoadedModel& model, const LoraOptions& options, uint64_t seed) {
    options.validate();
    at::NoGradGuard no_grad;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    int added = 0;
    // Adapters take the base weight's dtype and device; on a 4-bit layer, the model's compute dtype.
    const at::TensorOptions model_options = model.lm ? model.lm->embed.options() : model.classifier->word_embeddings.options();
    for (Linear* layer : lora_targets(model, options)) {
        const int64_t in = layer->in_features(), out = layer->out_features();
        const at::TensorOptions like = layer->weight.defined() ? layer->weight.options() : model_options;
        LoraWeights lora;
        // nn.Linear's default init, which PEFT keeps for A: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)).
        const double bound = 1.0 / std::sqrt(static_cast<double>(in));
        lora.A = at::empty({options.r, in}, at::TensorOptions().dtype(at::kFloat)).uniform_(-bound, bound, gen)
                     .to(like.device(), like.dtype().toScalarType());
        lora.B = at::zeros({out, options.r}, like);
        lora.scale = options.scale();
        lora.dropout = options.dropout;
        // DoRA: the rows' norms of the base weight (dequantized, as PEFT's dequantize_module_weight).
        if (options.dora) lora.magnitude = base_weight(*layer, at::kFloat).norm(2, {1}).to(like.dtype().toScalarType());
        layer->lora = std::move(lora);
        ++added;
    }
    return added;
}

void add_modules_to_save(LoadedModel& model, const std::vector<std::string>& modules) {
    for (const auto& module : modules) {
        std::string found;
        for (const auto& [name, _] : named_weights(model)) {
            std::string owner = name.substr(0, name.rfind('.'));
            if (name.compare(name.size() - 7, 7, ".weight") == 0 && module_name_matches(owner, module)) found = name;
        }
        if (module == "lm_head" && model.lm) found = std::string(model.lm->config.arch->lm_head) + ".weight";
        if (found.empty()) throw Error("lora_modules_to_save: '" + module + "' matches no module of this " + model.config.model_type + " model");
        if (model.lm && model.lm->config.tie_word_embeddings &&
            (found == std::string(model.lm->config.arch->lm_head) + ".weight" || found == std::string(model.lm->config.arch->embed) + ".weight"))
            throw Error("lora_modules_to_save: '" + module + "' is tied to the input embeddings in this model; training it alone is not supported");
        if (std::find(model.saved_modules.begin(), model.saved_modules.end(), found) == model.saved_modules.end())
            model.saved_modules.push_back(found);
    }
}

std::vector<std::pair<std::string, at::Tensor>> make_lora_trainable(LoadedModel& model, std::optional<at::ScalarType> master_dtype) {
    auto own = [&](const at::Tensor& t) {
        at::Tensor copy = master_dtype ? t.detach().to(*master_dtype).clone() : t.detach().clone();
        return copy.requires_grad_(true);
    };
    std::vector<std::pair<std::string, at::Tensor>> params;
    for (Linear* layer : model.linears()) {
        if (!layer->lora) continue;
        LoraWeights& lora = *layer->lora;
        std::string prefix = "base_model.model." + layer->name;
        // Own, contiguous storage: adapters loaded from a file may be views of its mapping.
        lora.A = own(lora.A);
        lora.B = own(lora.B);
        params.emplace_back(prefix + ".lora_A.weight", lora.A);
        params.emplace_back(prefix + ".lora_B.weight", lora.B);
        if (lora.magnitude.defined()) {
            lora.magnitude = own(lora.magnitude);
            params.emplace_back(prefix + ".lora_magnitude_vector", lora.magnitude);
        }
    }
    for (const auto& name : model.saved_modules) {  // modules_to_save train in full, in the model's dtype
        at::Tensor* w = find_weight(model, name);
        *w = w->detach().clone().requires_grad_(true);
        params.emplace_back("base_model.model." + name, *w);
    }
    if (params.empty()) throw Error("the model has no LoRA adapters to train");
    return params;
}

LoraOptions lora_options_of(const PeftConfig& config) {
    return {.r = config.r, .alpha = config.lora_alpha, .dropout = config.lora_dropout, .rslora = config.use_rslora,
            .dora = config.use_dora, .target_modules = config.target_modules};
}

PeftConfig peft_config_for(const LoadedModel& model, const LoraOptions& options, const std::string& base_model) {
    PeftConfig c;
    c.peft_type = "LORA";
    c.r = options.r;
    c.lora_alpha = options.alpha;
    c.lora_dropout = options.dropout;
    c.use_rslora = options.rslora;
    c.use_dora = options.dora;
    c.fan_in_fan_out = model.config.arch->conv1d;
    c.base_model = base_model;
    c.target_modules = options.target_modules;
    return c;
}

void save_peft_adapter(LoadedModel& model, const PeftConfig& config, const std::string& dir) {
    fs::create_directories(dir);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    std::set<std::string> modules;
    for (Linear* layer : model.linears()) {
        if (!layer->lora) continue;
        std::string prefix = "base_model.model." + layer->name;
        tensors.emplace_back(prefix + ".lora_A.weight", layer->lora->A.detach());
        tensors.emplace_back(prefix + ".lora_B.weight", layer->lora->B.detach());
        if (layer->lora->magnitude.defined()) tensors.emplace_back(prefix + ".lora_magnitude_vector", layer->lora->magnitude.detach());
        modules.insert(layer->name.substr(layer->name.rfind('.') + 1));
    }
    for (const auto& name : model.saved_modules) {  // modules_to_save, whole
        at::Tensor* w = find_weight(model, name);
        LATHE_ASSERT(w);
        tensors.emplace_back("base_model.model." + name, w->detach());
    }
    if (tensors.empty()) throw Error("the model has no LoRA adapters to save");
    save_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors, {{"format", "pt"}});

    // The keys peft 0.21's LoraConfig writes that loaders read; targets as the modules adapted.
    nlohmann::ordered_json j;
    j["alpha_pattern"] = nlohmann::json::object();
    j["auto_mapping"] = nullptr;
    j["base_model_name_or_path"] = config.base_model;
    j["bias"] = "none";
    j["fan_in_fan_out"] = config.fan_in_fan_out;
    j["inference_mode"] = true;
    j["init_lora_weights"] = true;
    j["layers_pattern"] = nullptr;
    j["layers_to_transform"] = nullptr;
    j["lora_alpha"] = config.lora_alpha;
    j["lora_bias"] = false;
    j["lora_dropout"] = config.lora_dropout;
    std::vector<std::string> to_save;  // module names, as PEFT lists them ("lm_head")
    for (const auto& name : model.saved_modules) {
        std::string module = name.substr(0, name.rfind('.'));
        to_save.push_back(module.substr(module.rfind('.') + 1));
    }
    j["modules_to_save"] = to_save.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(to_save);
    j["peft_type"] = "LORA";
    j["r"] = config.r;
    j["rank_pattern"] = nlohmann::json::object();
    j["revision"] = nullptr;
    j["target_modules"] = std::vector<std::string>(modules.begin(), modules.end());
    j["task_type"] = model.lm ? nlohmann::ordered_json("CAUSAL_LM") : nlohmann::ordered_json("SEQ_CLS");
    j["use_dora"] = config.use_dora;
    j["use_rslora"] = config.use_rslora;
    std::string text = j.dump(2) + "\n";
    AtomicFile out((fs::path(dir) / "adapter_config.json").string());
    out.write(text.data(), text.size());
    out.commit();
}

}  // namespace lathe
