#include "core/train/trained_tensors.h"

#include <algorithm>
#include <regex>

#include "core/util/error.h"

namespace lathe {

int64_t TrainedTensor::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

namespace {

// PEFT's target matching (core/adapters/peft.h's module_name_matches, which lives beside LibTorch code):
// the whole name, or its last dotted parts.
bool name_matches(const std::string& module, const std::string& key) {
    if (module == key) return true;
    return module.size() > key.size() && module.compare(module.size() - key.size(), key.size(), key) == 0 &&
           module[module.size() - key.size() - 1] == '.';
}

// A linear layer as the loader makes it (core/models/loader.cpp): its name, [out, in], bias.
struct LinearShape {
    std::string name;
    int64_t out = 0, in = 0;
    bool bias = false;
};

// DecoderLM::linears()'s order: each layer's q, k, v, qkv, o, gate, up, gate_up, down that exist, then lm_head.
std::vector<LinearShape> linears(const ModelConfig& c) {
    const ArchSpec& a = *c.arch;
    const int64_t hidden = c.hidden_size, H = c.num_heads, KV = c.num_kv_heads, D = c.head_dim, I = c.intermediate_size;
    std::vector<LinearShape> out;
    for (int i = 0; i < c.num_layers; ++i) {
        auto name = [i](const char* tmpl) { return layer_tensor_name(tmpl, i); };
        if (!a.fused_qkv) {
            out.push_back({name(a.q), H * D, hidden, c.attention_bias});
            out.push_back({name(a.k), KV * D, hidden, c.attention_bias});
            out.push_back({name(a.v), KV * D, hidden, c.attention_bias});
        } else {
            out.push_back({name(a.qkv), (H + 2 * KV) * D, hidden, c.attention_bias});
        }
        out.push_back({name(a.o), hidden, H * D, c.o_bias});
        if (a.mlp == MlpKind::Gated) {
            out.push_back({name(a.gate), I, hidden, c.mlp_bias});
            out.push_back({name(a.up), I, hidden, c.mlp_bias});
        } else if (a.mlp == MlpKind::Plain) {
            out.push_back({name(a.up), I, hidden, c.mlp_bias});
        } else {
            out.push_back({name(a.gate_up), 2 * I, hidden, c.mlp_bias});
        }
        out.push_back({name(a.down), hidden, I, c.mlp_bias});
    }
    out.push_back({a.lm_head, c.vocab_size, hidden, false});
    return out;
}

// named_weights()'s order (core/models/named_weights.cpp): embeddings, every layer's norms, the linear
// layers' weights and biases (the output head only when untied), the final norm.
std::vector<std::pair<std::string, std::vector<int64_t>>> named_weights(const ModelConfig& c) {
    const ArchSpec& a = *c.arch;
    const int64_t hidden = c.hidden_size;
    const bool layer_norm = a.norm == NormKind::LayerNorm;
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    out.push_back({std::string(a.embed) + ".weight", {c.vocab_size, hidden}});
    if (a.positions == Positions::Learned) out.push_back({std::string(a.pos_embed) + ".weight", {c.max_position_embeddings, hidden}});
    for (int i = 0; i < c.num_layers; ++i) {
        for (const char* norm : {a.attn_norm, a.mlp_norm}) {
            out.push_back({layer_tensor_name(norm, i) + ".weight", {hidden}});
            if (layer_norm) out.push_back({layer_tensor_name(norm, i) + ".bias", {hidden}});
        }
        if (a.qk_norm) {
            out.push_back({layer_tensor_name(a.q_norm, i) + ".weight", {c.head_dim}});
            out.push_back({layer_tensor_name(a.k_norm, i) + ".weight", {c.head_dim}});
        }
    }
    for (const LinearShape& l : linears(c)) {
        if (l.name == a.lm_head && c.tie_word_embeddings) continue;
        out.push_back({l.name + ".weight", {l.out, l.in}});
        if (l.bias) out.push_back({l.name + ".bias", {l.out}});
    }
    out.push_back({std::string(a.final_norm) + ".weight", {hidden}});
    if (layer_norm) out.push_back({std::string(a.final_norm) + ".bias", {hidden}});
    return out;
}

std::vector<TrainedTensor> full_finetuning(const TrainConfig& c, const ModelConfig& m) {
    std::vector<std::regex> unfrozen;
    for (const auto& p : c.unfrozen_parameters) unfrozen.emplace_back(p);
    const std::string head = std::string(m.arch->lm_head) + ".weight";
    std::vector<TrainedTensor> out;
    for (auto& [name, shape] : named_weights(m)) {
        const bool train = unfrozen.empty() || std::any_of(unfrozen.begin(), unfrozen.end(), [&](const std::regex& r) {
                               return std::regex_search(name, r, std::regex_constants::match_continuous);
                           });
        if (!train) continue;
        // The optimizer updates float32 weights (float32 masters of a bfloat16 model); no decay on 1-D ones.
        out.push_back({.name = name, .shape = shape, .element_size = 4, .group = shape.size() >= 2 ? 0 : 1, .output_layer = name == head});
    }
    if (out.empty()) throw Error("unfrozen_parameters matches no weight of the model (names look like 'model.layers.0.mlp.down_proj.weight')");
    return out;
}

std::vector<TrainedTensor> lora(const TrainConfig& c, const ModelConfig& m, bool bf16) {
    const std::vector<std::string> targets = c.lora_target_linear ? std::vector<std::string>{"all-linear"} : c.lora_target_modules;
    const bool all_linear = targets.size() == 1 && targets[0] == "all-linear";
    const std::string head = m.arch->lm_head;
    std::vector<TrainedTensor> out;
    for (const LinearShape& l : linears(m)) {
        const bool is_head = l.name == head;
        const bool adapted = all_linear ? !is_head : std::any_of(targets.begin(), targets.end(), [&](const std::string& t) { return name_matches(l.name, t); });
        if (!adapted) continue;
        const std::string prefix = "base_model.model." + l.name;
        out.push_back({.name = prefix + ".lora_A.weight", .shape = {c.lora_r, l.in}, .element_size = 4, .group = 0, .output_layer = is_head});
        out.push_back({.name = prefix + ".lora_B.weight", .shape = {l.out, c.lora_r}, .element_size = 4, .group = 1, .output_layer = is_head});
        if (c.peft_use_dora)
            out.push_back({.name = prefix + ".lora_magnitude_vector", .shape = {l.out}, .element_size = 4, .group = 0, .output_layer = is_head});
    }
    // modules_to_save (add_modules_to_save): the last weight whose module matches, trained in the model's dtype.
    const auto weights = named_weights(m);
    std::vector<std::string> saved;
    for (const std::string& module : c.lora_modules_to_save) {
        std::string found;
        std::vector<int64_t> shape;
        for (const auto& [name, s] : weights) {
            const std::string owner = name.substr(0, name.rfind('.'));
            if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 && name_matches(owner, module)) {
                found = name;
                shape = s;
            }
        }
        if (module == "lm_head") {
            found = head + ".weight";
            shape = {m.vocab_size, m.hidden_size};
        }
        if (found.empty()) throw Error("lora_modules_to_save: '" + module + "' matches no module of this " + m.model_type + " model");
        if (std::find(saved.begin(), saved.end(), found) != saved.end()) continue;
        saved.push_back(found);
        out.push_back({.name = "base_model.model." + found, .shape = shape, .element_size = bf16 ? 2 : 4, .group = 2,
                       .output_layer = found == head + ".weight" && !m.tie_word_embeddings});
    }
    return out;
}

}  // namespace

std::vector<TrainedTensor> trained_tensors(const TrainConfig& c, const ModelConfig& m, bool bf16) {
    if (m.arch->family != Family::DecoderLM) throw Error(m.path + ": training supports causal language models");
    return uses_lora(c) ? lora(c, m, bf16) : full_finetuning(c, m);
}

}  // namespace lathe
