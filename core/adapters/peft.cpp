#include "core/adapters/peft.h"

#include <cmath>
#include <filesystem>
#include <set>

#include "core/io/tensor_io.h"
#include "core/models/named_weights.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

namespace fs = std::filesystem;

bool module_name_matches(const std::string& module, const std::string& key) {
    if (module == key) return true;
    return module.size() > key.size() && module.compare(module.size() - key.size(), key.size(), key) == 0 &&
           module[module.size() - key.size() - 1] == '.';
}

double PeftConfig::scale_for(const std::string& module, int64_t* rank_out) const {
    int64_t rank = r;
    double alpha = lora_alpha;
    for (const auto& [key, value] : rank_pattern)
        if (module_name_matches(module, key)) rank = value;
    for (const auto& [key, value] : alpha_pattern)
        if (module_name_matches(module, key)) alpha = value;
    if (rank_out) *rank_out = rank;
    return use_rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / static_cast<double>(rank);
}

PeftConfig read_peft_config(const std::string& dir) {
    fs::path path = fs::path(dir) / "adapter_config.json";
    if (!fs::exists(path)) throw Error(dir + ": no adapter_config.json; not a PEFT adapter folder");
    nlohmann::json j = read_json_file(path.string());
    PeftConfig c;
    c.path = path.string();
    auto fail = [&](const std::string& what) { return Error(c.path + ": " + what); };
    try {
        c.peft_type = j.value("peft_type", "LORA");
        if (c.peft_type != "LORA") throw fail("peft_type '" + c.peft_type + "' is not supported (Lathe loads LORA adapters)");
        c.r = j.at("r").get<int64_t>();
        c.lora_alpha = j.at("lora_alpha").get<double>();
        if (j.contains("lora_dropout") && !j["lora_dropout"].is_null()) c.lora_dropout = j["lora_dropout"].get<double>();
        c.use_rslora = j.value("use_rslora", false);
        c.use_dora = j.value("use_dora", false);
        c.fan_in_fan_out = j.value("fan_in_fan_out", false);
        if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string()) c.base_model = j["base_model_name_or_path"];
        if (j.contains("target_modules") && j["target_modules"].is_array()) c.target_modules = j["target_modules"].get<std::vector<std::string>>();
        if (j.contains("rank_pattern") && j["rank_pattern"].is_object()) c.rank_pattern = j["rank_pattern"].get<std::map<std::string, int64_t>>();
        if (j.contains("alpha_pattern") && j["alpha_pattern"].is_object()) c.alpha_pattern = j["alpha_pattern"].get<std::map<std::string, double>>();
        std::string bias = j.value("bias", "none");
        if (bias != "none") throw fail("bias '" + bias + "' is not supported (only \"none\")");
        if (j.value("lora_bias", false)) throw fail("lora_bias is not supported");
        if (j.contains("modules_to_save") && j["modules_to_save"].is_array())
            c.modules_to_save = j["modules_to_save"].get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
        throw fail(std::string("unexpected content: ") + e.what());
    }
    if (c.r <= 0) throw fail("'r' must be positive");
    return c;
}

int attach_peft_adapter(LoadedModel& model, const std::string& dir) {
    PeftConfig cfg = read_peft_config(dir);
    fs::path weights_path = fs::path(dir) / "adapter_model.safetensors";
    if (!fs::exists(weights_path))
        throw Error(dir + ": no adapter_model.safetensors (adapter_model.bin is a pickle format Lathe does not load)");
    Checkpoint ckpt = Checkpoint::open_file(weights_path.string());
    const c10::Device device = model.lm ? model.lm->device() : model.classifier->device();
    const at::ScalarType dtype = model.lm ? model.lm->dtype() : model.classifier->word_embeddings.scalar_type();

    std::set<std::string> used;
    auto take = [&](const std::string& name, std::vector<int64_t> shape) {
        LocatedTensor located = ckpt.at(name);
        at::Tensor t = tensor_view(located);
        if (t.sizes() != at::IntArrayRef(shape)) {
            std::string want, got;
            for (auto d : shape) want += (want.empty() ? "" : ", ") + std::to_string(d);
            for (auto d : t.sizes()) got += (got.empty() ? "" : ", ") + std::to_string(d);
            throw Error(weights_path.string() + ": tensor '" + name + "' has shape [" + got + "], but the base model needs [" +
                        want + "]; was the adapter made for another base model?");
        }
        used.insert(name);
        return t.to(device, dtype);
    };

    int adapted = 0;
    for (Linear* layer : model.linears()) {
        std::string prefix = "base_model.model." + layer->name;
        if (!ckpt.contains(prefix + ".lora_A.weight")) continue;
        int64_t rank = 0;
        double scale = cfg.scale_for(layer->name, &rank);
        LoraWeights lora;
        lora.A = take(prefix + ".lora_A.weight", {rank, layer->in_features()});
        lora.B = take(prefix + ".lora_B.weight", {layer->out_features(), rank});
        lora.scale = scale;
        lora.dropout = cfg.lora_dropout;
        std::string magnitude = prefix + ".lora_magnitude_vector";
        if (ckpt.contains(magnitude)) lora.magnitude = take(magnitude, {layer->out_features()});
        else if (ckpt.contains(magnitude + ".weight")) lora.magnitude = take(magnitude + ".weight", {layer->out_features()});
        else if (cfg.use_dora) throw Error(weights_path.string() + ": use_dora is set but '" + magnitude + "' is missing");
        layer->lora = std::move(lora);
        ++adapted;
    }
    // modules_to_save: whole weights, saved as "base_model.model.<module>.weight".
    for (const auto& name : ckpt.names()) {
        if (used.count(name) || name.find(".lora_") != std::string::npos) continue;
        const std::string prefix = "base_model.model.";
        if (name.rfind(prefix, 0) != 0) continue;
        std::string weight_name = name.substr(prefix.size());
        at::Tensor* target = find_weight(model, weight_name);
        if (!target) continue;  // reported below as matching nothing
        at::Tensor t = take(name, target->sizes().vec());
        *target = t.clone();  // own storage: it may be trained further
        model.saved_modules.push_back(weight_name);
    }
    for (const auto& name : ckpt.names())
        if (!used.count(name))
            throw Error(weights_path.string() + ": tensor '" + name + "' matches no layer of the " +
                        model.config.model_type + " model in " + fs::path(model.config.path).parent_path().string() +
                        "; was the adapter made for another base model?");
    if (adapted == 0 && model.saved_modules.empty()) throw Error(weights_path.string() + ": holds no LoRA weights");
    return adapted;
}

void merge_adapters(LoadedModel& model) {
    for (Linear* layer : model.linears()) {
        if (!layer->lora) continue;
        layer->weight = merged_weight(*layer);
        layer->lora.reset();
    }
}

}  // namespace lathe
