#include "core/models/model_summary.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/io/checkpoint.h"
#include "core/models/config.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {
// The tensors transformers saves beside a Linear4bit weight.
bool is_bnb_4bit_companion(const std::string& name) {
    for (const char* suffix : {".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map"})
        if (name.size() > std::strlen(suffix) && name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0) return true;
    return name.find(".quant_state.bitsandbytes__") != std::string::npos;
}
}  // namespace

ModelSummary summarize_model(const std::string& dir) {
    ModelConfig c = read_model_config(dir);
    Checkpoint ckpt = Checkpoint::open_dir(dir);
    ModelSummary s;
    s.dir = dir;
    s.model_type = c.model_type;
    s.architecture = c.arch->display_name;
    s.task = c.arch->family == Family::DecoderLM ? "causal language model" : "sequence classification";
    s.size_bytes = ckpt.total_bytes();
    s.files = static_cast<int>(ckpt.files().size());
    s.layers = c.num_layers;
    s.hidden_size = c.hidden_size;
    s.intermediate_size = c.intermediate_size;
    s.heads = c.num_heads;
    s.kv_heads = c.num_kv_heads;
    s.head_dim = c.head_dim;
    s.vocab_size = c.vocab_size;
    s.context_length = c.max_position_embeddings;
    s.tied_embeddings = c.tie_word_embeddings;

    std::map<std::string, int64_t> by_dtype;
    for (const auto& name : ckpt.names()) {
        const TensorEntry& e = *ckpt.at(name).entry;
        // A tied model may still carry lm_head.weight; transformers ignores it and so does the count.
        if (c.tie_word_embeddings && c.arch->lm_head[0] && name == std::string(c.arch->lm_head) + ".weight") continue;
        if (c.quantization && is_bnb_4bit_companion(name)) continue;  // absmax, quant_map, quant_state: not weights
        if (c.quantization && (ckpt.contains(name + ".quant_state.bitsandbytes__nf4") ||
                               ckpt.contains(name + ".quant_state.bitsandbytes__fp4"))) {
            int64_t weights = 2 * e.numel() * static_cast<int64_t>(element_size(e.dtype));  // two 4-bit values a byte
            s.parameters += weights;
            by_dtype[c.quantization->quant_type] += weights;
            continue;
        }
        s.parameters += e.numel();
        by_dtype[dtype_display_name(e.dtype)] += e.numel();
    }
    if (c.quantization) s.quantization = quant::describe(*c.quantization);
    if (by_dtype.size() == 1) {
        s.dtype = by_dtype.begin()->first;
    } else {
        s.dtype = "mixed:";
        for (const auto& [name, n] : by_dtype) s.dtype += " " + name + " " + human_count(n);
    }
    if (c.arch->positions == Positions::Rope) {
        char buf[128];
        if (c.rope.type == "default") std::snprintf(buf, sizeof buf, "default, theta %.10g", c.rope.theta);
        else std::snprintf(buf, sizeof buf, "%s x%g, theta %.10g", c.rope.type.c_str(), c.rope.factor, c.rope.theta);
        s.rope = buf;
    }
    s.has_tokenizer = fs::exists(fs::path(dir) / "tokenizer.json") || fs::exists(fs::path(dir) / "tokenizer.model");
    if (fs::exists(fs::path(dir) / "chat_template.jinja")) {
        s.has_chat_template = true;
    } else if (fs::exists(fs::path(dir) / "tokenizer_config.json")) {
        std::ifstream in(fs::path(dir) / "tokenizer_config.json");
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        s.has_chat_template = text.find("\"chat_template\"") != std::string::npos;
    }
    return s;
}

std::string human_count(int64_t n) {
    char buf[32];
    double v = static_cast<double>(n);
    if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fB", v / 1e9);
    else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
    else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", v / 1e3);
    else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
    return buf;
}

std::string human_bytes(uint64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

}  // namespace lathe
