#include "core/export/gguf_export.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "core/export/gguf_arch.h"
#include "core/export/gguf_tokenizer.h"
#include "core/io/checkpoint.h"
#include "core/io/gguf_quants.h"
#include "core/io/gguf_writer.h"
#include "core/io/safetensors.h"
#include "core/models/config.h"
#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {

// llama_ftype values (llama.h) for general.file_type, and the type most tensors get.
struct FileType {
    const char* name;
    uint32_t ftype;
    GgmlType base;
    bool k_mix;  // Q4_K_M / Q5_K_M: llama-quantize's per-tensor upgrades
};
const FileType kFileTypes[] = {
    {"f32", 0, GgmlType::F32, false},     {"f16", 1, GgmlType::F16, false},
    {"bf16", 32, GgmlType::BF16, false},  {"q8_0", 7, GgmlType::Q8_0, false},
    {"q4_0", 2, GgmlType::Q4_0, false},   {"q4_k_m", 15, GgmlType::Q4_K, true},
    {"q5_k_m", 17, GgmlType::Q5_K, true}, {"q6_k", 18, GgmlType::Q6_K, false},
};

bool is_quantized(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16; }

int64_t block_size(GgmlType t) { return ggml_type_traits(static_cast<uint32_t>(t))->block_size; }

// llama-quant.cpp's tensor_type_fallback: a row length the type cannot split into blocks.
GgmlType fallback(GgmlType t, int64_t ncols) {
    if (ncols % block_size(t) == 0) return t;
    GgmlType f = t;
    switch (t) {
        case GgmlType::Q4_K: f = GgmlType::Q5_0; break;
        case GgmlType::Q5_K: f = GgmlType::Q5_1; break;
        case GgmlType::Q6_K: f = GgmlType::Q8_0; break;
        default: break;
    }
    return ncols % block_size(f) == 0 ? f : GgmlType::F16;
}

bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// The type one 2-D weight is stored as. F32/F16/BF16/Q8_0 follow convert_hf_to_gguf.py; the others
// follow llama-quantize (llama-quant.cpp's llama_tensor_get_type without an importance matrix).
GgmlType tensor_type(const FileType& ft, const std::string& gguf_base, int layer, int n_layers, bool tied,
                     int64_t ncols) {
    if (gguf_base == "position_embd") return GgmlType::F32;  // convert_hf_to_gguf keeps POS_EMBD in F32
    if (!is_quantized(ft.base)) return ft.base;
    if (ft.base == GgmlType::Q8_0) return ncols % 32 == 0 ? GgmlType::Q8_0 : GgmlType::F16;
    GgmlType t = ft.base;
    const bool output = gguf_base == "output" || (tied && gguf_base == "token_embd");
    if (output) {
        t = ncols % 256 != 0 ? GgmlType::Q8_0 : GgmlType::Q6_K;
    } else if (ft.k_mix) {
        // llama-quant.cpp counts a fused qkv as an attn_v tensor (category_is_attn_v), so it gets the
        // same upgrade on the same layers; checked against llama_model_quantize in the tests.
        const bool attn_v = gguf_base.ends_with(".attn_v") || gguf_base.ends_with(".attn_qkv");
        if ((attn_v || gguf_base.ends_with(".ffn_down")) && use_more_bits(layer, n_layers)) t = GgmlType::Q6_K;
    }
    return fallback(t, ncols);
}

std::vector<float> to_float(const LocatedTensor& s) {
    const TensorEntry& e = *s.entry;
    const int64_t n = e.numel();
    std::vector<float> out(static_cast<size_t>(n));
    const uint8_t* p = s.file->data(e);
    switch (e.dtype) {
        case DType::F32: std::memcpy(out.data(), p, n * 4); break;
        case DType::F16: for (int64_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, p + 2 * i, 2); out[i] = fp16_to_fp32(h); } break;
        case DType::BF16: for (int64_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, p + 2 * i, 2); out[i] = bf16_to_fp32(h); } break;
        default: LATHE_ASSERT(false);  // checked before writing
    }
    return out;
}

// convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors: Llama 3's frequency factors as a tensor.
std::vector<float> llama3_rope_factors(const ModelConfig& c) {
    const int64_t dim = c.head_dim;
    const double base = c.rope.theta;
    const double factor = c.rope.factor;
    const double low = c.rope.low_freq_factor, high = c.rope.high_freq_factor;
    const double old_ctx = static_cast<double>(c.rope.original_max_position_embeddings);
    const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
    std::vector<float> out;
    for (int64_t i = 0; i < dim; i += 2) {
        // torch computes freqs in float32: 1 / base ** (arange(0, dim, 2) / dim)
        const float freq = 1.0f / std::pow(static_cast<float>(base), static_cast<float>(i) / static_cast<float>(dim));
        const double wavelen = 2 * M_PI / freq;
        if (wavelen < high_wavelen) out.push_back(1.0f);
        else if (wavelen > low_wavelen) out.push_back(static_cast<float>(factor));
        else {
            const double smooth = (old_ctx / wavelen - low) / (high - low);
            out.push_back(static_cast<float>(1.0 / ((1 - smooth) / factor + smooth)));
        }
    }
    return out;
}

}  // namespace

void export_gguf(const std::string& model_dir, const std::string& out_path, const GgufExportOptions& options) {
    const FileType* ft = nullptr;
    for (const auto& t : kFileTypes) {
        if (options.type == t.name) ft = &t;
    }
    if (!ft) {
        throw Error("GGUF type '" + options.type + "' is not supported (use f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k)");
    }
    const ModelConfig cfg = read_model_config(model_dir);
    const GgufArch* ga = gguf_arch_for_model_type(cfg.model_type);
    if (!ga) {
        throw Error(cfg.path + ": model_type '" + cfg.model_type + "' cannot be exported to GGUF by Lathe (supported: " +
                    gguf_supported_model_types() + ")");
    }
    const std::string arch = ga->gguf_arch;
    const std::string where = cfg.path;
    const bool gpt2 = ga->transpose_conv1d;

    // What GGUF cannot express, refused before anything is written.
    if (!gpt2) {
        const std::string want_act = ga->ffn_activation;
        if (cfg.hidden_act != want_act) {
            throw Error(where + ": hidden_act '" + cfg.hidden_act + "' — llama.cpp's " + arch + " uses " + want_act);
        }
        if (cfg.mlp_bias) throw Error(where + ": mlp_bias has no GGUF " + arch + " counterpart");
        if (cfg.sliding_window && *cfg.sliding_window < cfg.max_position_embeddings && !ga->sliding_window_key) {
            throw Error(where + ": sliding_window " + std::to_string(*cfg.sliding_window) + " — llama.cpp's " + arch +
                        " architecture attends to the whole context, so the exported model would differ");
        }
        const std::string& rt = cfg.rope.type;
        if (rt != "default" && rt != "linear" && !(rt == "llama3" && ga->permute_qk)) {
            throw Error(where + ": rope type '" + rt + "' cannot be exported to GGUF " + arch + " by Lathe (supported: default, linear" +
                        std::string(ga->permute_qk ? ", llama3" : "") + ")");
        }
        if (cfg.rope.partial_rotary_factor != 1.0 && !ga->partial_rotary) {
            throw Error(where + ": partial_rotary_factor has no GGUF " + arch + " counterpart");
        }
    } else if (cfg.hidden_act != "gelu_new" && cfg.hidden_act != "gelu_pytorch_tanh") {
        throw Error(where + ": activation_function '" + cfg.hidden_act + "' — llama.cpp's gpt2 uses the tanh GELU (gelu_new)");
    }

    GgufWriter w;
    w.set_string("general.architecture", arch);
    w.set_string("general.type", "model");
    w.set_string("general.name", fs::path(model_dir).lexically_normal().filename().string());
    w.set_u32("general.quantization_version", 2);
    w.set_u32("general.file_type", ft->ftype);
    auto key = [&](const std::string& k) { return arch + "." + k; };
    w.set_u32(key("block_count"), static_cast<uint32_t>(cfg.num_layers));
    w.set_u32(key("context_length"), static_cast<uint32_t>(cfg.max_position_embeddings));
    w.set_u32(key("embedding_length"), static_cast<uint32_t>(cfg.hidden_size));
    w.set_u32(key("feed_forward_length"), static_cast<uint32_t>(cfg.intermediate_size));
    w.set_u32(key("attention.head_count"), static_cast<uint32_t>(cfg.num_heads));
    if (gpt2) {
        w.set_f32(key("attention.layer_norm_epsilon"), static_cast<float>(cfg.norm_eps));
    } else {
        w.set_u32(key("attention.head_count_kv"), static_cast<uint32_t>(cfg.num_kv_heads));
        w.set_f32(key("rope.freq_base"), static_cast<float>(cfg.rope.theta));
        w.set_f32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(cfg.norm_eps));
        const int64_t rope_dims = static_cast<int64_t>(std::llround(cfg.head_dim * cfg.rope.partial_rotary_factor));
        w.set_u32(key("rope.dimension_count"), static_cast<uint32_t>(rope_dims));
        if (cfg.head_dim * cfg.num_heads != cfg.hidden_size || ga->always_head_dim_keys) {
            w.set_u32(key("attention.key_length"), static_cast<uint32_t>(cfg.head_dim));
            w.set_u32(key("attention.value_length"), static_cast<uint32_t>(cfg.head_dim));
        }
        if (cfg.rope.type == "linear") {
            w.set_string(key("rope.scaling.type"), "linear");
            w.set_f32(key("rope.scaling.factor"), static_cast<float>(cfg.rope.factor));
        }
        if (ga->original_context_key) {
            w.set_u32(key("rope.scaling.original_context_length"),
                      static_cast<uint32_t>(cfg.rope.original_max_position_embeddings > 0
                                                ? cfg.rope.original_max_position_embeddings
                                                : cfg.max_position_embeddings));
        }
        if (ga->sliding_window_key && cfg.sliding_window) {
            w.set_u32(key("attention.sliding_window"), static_cast<uint32_t>(*cfg.sliding_window));
        }
    }
    w.set_u32(key("vocab_size"), static_cast<uint32_t>(cfg.vocab_size));
    add_gguf_tokenizer(w, model_dir, cfg.vocab_size);

    // Weights: every checkpoint tensor must find its GGUF name, and every needed one must be there. Read
    // as the other exports read them (Checkpoint: one file or the shards an index names).
    const Checkpoint src = Checkpoint::open_dir(model_dir);
    std::set<std::string> used;
    for (const std::string& name : src.names()) {
        const LocatedTensor s = src.at(name);
        if (s.entry->dtype != DType::F32 && s.entry->dtype != DType::F16 && s.entry->dtype != DType::BF16) {
            throw Error(s.file->path() + ": tensor '" + name + "' is " + dtype_display_name(s.entry->dtype) +
                        "; GGUF export reads float32, float16 and bfloat16 weights");
        }
    }
    const bool tied = cfg.tie_word_embeddings || !src.contains(std::string(find_architecture(cfg.model_type)->lm_head) + ".weight");
    const int n_layers = static_cast<int>(cfg.num_layers);
    if (cfg.rope.type == "llama3" && ga->permute_qk) {
        auto factors = std::make_shared<std::vector<float>>(llama3_rope_factors(cfg));
        w.add_tensor("rope_freqs.weight", GgmlType::F32, {static_cast<int64_t>(factors->size())},
                     [factors](uint8_t* dst) { std::memcpy(dst, factors->data(), factors->size() * 4); });
    }
    for (const auto& n : gguf_tensor_names(*find_architecture(cfg.model_type), cfg.num_layers)) {
        if (n.gguf == "output" && tied) {
            used.insert(n.hf + ".weight");  // a saved copy of the tied head is not written twice
            continue;
        }
        for (const char* suffix : {".weight", ".bias"}) {
            const std::string hf = n.hf + suffix;
            if (!src.contains(hf)) {
                if (std::string(suffix) == ".weight") throw Error(model_dir + ": checkpoint has no tensor '" + hf + "'");
                continue;
            }
            used.insert(hf);
            const LocatedTensor s = src.at(hf);  // src outlives w.write(), which reads it
            std::vector<int64_t> shape = s.entry->shape;  // row-major, HF layout
            const bool is_weight = std::string(suffix) == ".weight";
            const bool conv1d = gpt2 && is_weight && shape.size() == 2 && n.gguf.find("norm") == std::string::npos &&
                                n.gguf != "token_embd" && n.gguf != "position_embd" && n.gguf != "output";
            if (conv1d) std::swap(shape[0], shape[1]);  // stored [in, out]; GGUF wants [out, in]
            std::vector<int64_t> ne(shape.rbegin(), shape.rend());
            const GgmlType type = shape.size() == 1 ? GgmlType::F32
                                                    : tensor_type(*ft, n.gguf, n.layer, n_layers, tied, ne[0]);
            int64_t heads = 0;
            if (ga->permute_qk && n.gguf.ends_with(".attn_q")) heads = cfg.num_heads;
            if (ga->permute_qk && n.gguf.ends_with(".attn_k")) heads = cfg.num_kv_heads;
            const bool plus_one = ga->norm_plus_one && is_weight && n.gguf.ends_with("norm");
            w.add_tensor(n.gguf + suffix, type, ne, [s, shape, ne, type, heads, plus_one, conv1d](uint8_t* dst) {
                std::vector<float> x = to_float(s);
                const int64_t rows = shape[0];
                const int64_t cols = shape.size() > 1 ? shape[1] : 1;
                if (conv1d) {  // source is [cols, rows]
                    std::vector<float> t(x.size());
                    for (int64_t r = 0; r < rows; ++r)
                        for (int64_t c = 0; c < cols; ++c) t[r * cols + c] = x[c * rows + r];
                    x.swap(t);
                }
                if (heads) permute_qk_rows(x.data(), rows, cols, heads);
                if (plus_one) for (float& v : x) v += 1.0f;
                const int64_t row_len = ne[0];
                const uint64_t row_bytes = ggml_row_bytes(type, row_len);
                const int64_t n_rows = static_cast<int64_t>(x.size()) / row_len;
                for (int64_t r = 0; r < n_rows; ++r) quantize_row(type, x.data() + r * row_len, dst + r * row_bytes, row_len);
            });
        }
    }
    for (const std::string& name : src.names()) {
        if (used.count(name)) continue;
        const LocatedTensor s = src.at(name);
        // Buffers some checkpoints carry that are not weights.
        if (name.ends_with(".rotary_emb.inv_freq") || name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias")) continue;
        throw Error(s.file->path() + ": tensor '" + name + "' has no GGUF " + arch + " counterpart; exporting without it would "
                    "change the model");
    }

    fs::create_directories(fs::path(out_path).has_parent_path() ? fs::path(out_path).parent_path() : fs::path("."));
    w.write(out_path, [&](size_t i, size_t n, const std::string& name) {
        if (options.progress) options.progress(static_cast<double>(i) / static_cast<double>(n), name);
    });
    if (options.progress) options.progress(1.0, "done");
}

}  // namespace lathe
