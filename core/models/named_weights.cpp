#include "core/models/named_weights.h"

#include "core/util/error.h"

namespace lathe {

std::vector<std::pair<std::string, at::Tensor*>> named_weights(LoadedModel& model) {
    std::vector<std::pair<std::string, at::Tensor*>> out;
    if (!model.lm) throw Error("named weights: only causal language models are supported");
    DecoderLM& lm = *model.lm;
    const ArchSpec& a = *lm.config.arch;
    out.emplace_back(std::string(a.embed) + ".weight", &lm.embed);
    if (lm.pos_embed.defined()) out.emplace_back(std::string(a.pos_embed) + ".weight", &lm.pos_embed);
    for (size_t i = 0; i < lm.layers.size(); ++i) {
        DecoderLayer& L = lm.layers[i];
        auto norm = [&](const char* tmpl, Norm& n) {
            std::string base = layer_tensor_name(tmpl, static_cast<int>(i));
            out.emplace_back(base + ".weight", &n.weight);
            if (n.bias.defined()) out.emplace_back(base + ".bias", &n.bias);
        };
        norm(a.attn_norm, L.attn_norm);
        norm(a.mlp_norm, L.mlp_norm);
        if (L.q_norm.defined()) out.emplace_back(layer_tensor_name(a.q_norm, static_cast<int>(i)) + ".weight", &L.q_norm);
        if (L.k_norm.defined()) out.emplace_back(layer_tensor_name(a.k_norm, static_cast<int>(i)) + ".weight", &L.k_norm);
    }
    for (Linear* l : lm.linears()) {
        if (l == &lm.lm_head && lm.config.tie_word_embeddings) continue;
        out.emplace_back(l->name + ".weight", &l->weight);
        if (l->bias.defined()) out.emplace_back(l->name + ".bias", &l->bias);
    }
    std::string final_base = a.final_norm;
    out.emplace_back(final_base + ".weight", &lm.final_norm.weight);
    if (lm.final_norm.bias.defined()) out.emplace_back(final_base + ".bias", &lm.final_norm.bias);
    return out;
}


at::Tensor* find_weight(LoadedModel& model, const std::string& name) {
    if (!model.lm) return nullptr;
    if (name == std::string(model.lm->config.arch->lm_head) + ".weight") return &model.lm->lm_head.weight;
    for (auto& [n, tensor] : named_weights(model))
        if (n == name) return tensor;
    return nullptr;
}

}  // namespace lathe
