#include "core/export/gguf_import.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/export/gguf_arch.h"
#include "core/export/gguf_tokenizer.h"
#include "core/export/staged_output.h"
#include "core/io/gguf.h"
#include "core/io/gguf_quants.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// GGUF stores these as float32; the config gets the shortest decimal that reads back as the same
// float32 (1e-05, not 9.999999747378752e-06), as the original config.json had.
double short_float(double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(v));
    return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}

struct Hparams {
    int64_t n_layers = 0, hidden = 0, ffn = 0, n_head = 0, n_kv_head = 0, head_dim = 0, context = 0, vocab = 0;
    int64_t rope_dims = 0;
    double eps = 0, rope_theta = 10000.0;
    std::string rope_scaling = "none";
    double rope_factor = 1.0;
    int64_t rope_orig_context = 0;
    std::optional<int64_t> sliding_window;
};

Hparams read_hparams(const GgufFile& g, const std::string& arch, const GgufArch& ga) {
    auto key = [&](const std::string& k) { return arch + "." + k; };
    Hparams h;
    h.n_layers = g.get_int(key("block_count"));
    h.hidden = g.get_int(key("embedding_length"));
    h.n_head = g.get_int(key("attention.head_count"));
    h.n_kv_head = g.opt_int(key("attention.head_count_kv")).value_or(h.n_head);
    h.ffn = g.get_int(key("feed_forward_length"));
    h.context = g.get_int(key("context_length"));
    if (ga.transpose_conv1d) {
        h.eps = g.get_float(key("attention.layer_norm_epsilon"));
    } else {
        h.eps = g.get_float(key("attention.layer_norm_rms_epsilon"));
        // llama.cpp reads a missing freq_base as 10000, so the file means 10000 when it says nothing.
        h.rope_theta = g.opt_float(key("rope.freq_base")).value_or(10000.0);
    }
    for (auto [name, v] : {std::pair{"block_count", h.n_layers}, {"embedding_length", h.hidden},
                           {"attention.head_count", h.n_head}, {"attention.head_count_kv", h.n_kv_head},
                           {"feed_forward_length", h.ffn}, {"context_length", h.context}}) {
        if (v <= 0) throw Error(g.path() + ": " + key(name) + " must be positive, got " + std::to_string(v));
    }
    if (h.n_head % h.n_kv_head != 0) {
        throw Error(g.path() + ": " + key("attention.head_count") + " (" + std::to_string(h.n_head) +
                    ") is not a multiple of " + key("attention.head_count_kv") + " (" + std::to_string(h.n_kv_head) + ")");
    }
    h.head_dim = g.opt_int(key("attention.key_length")).value_or(h.hidden / h.n_head);
    if (auto vl = g.opt_int(key("attention.value_length")); vl && *vl != h.head_dim) {
        throw Error(g.path() + ": " + key("attention.value_length") + " differs from the key length; Hugging Face " +
                    ga.model_type + " models cannot express that");
    }
    if (!g.opt_int(key("attention.key_length")) && h.hidden % h.n_head != 0) {
        throw Error(g.path() + ": " + key("embedding_length") + " is not a multiple of " + key("attention.head_count"));
    }
    h.rope_dims = g.opt_int(key("rope.dimension_count")).value_or(h.head_dim);
    if (auto t = g.opt_string(key("rope.scaling.type"))) h.rope_scaling = *t;
    h.rope_factor = g.opt_float(key("rope.scaling.factor")).value_or(1.0);
    h.rope_orig_context = g.opt_int(key("rope.scaling.original_context_length")).value_or(0);
    h.sliding_window = g.opt_int(key("attention.sliding_window"));
    h.eps = short_float(h.eps);
    h.rope_theta = short_float(h.rope_theta);
    h.rope_factor = short_float(h.rope_factor);
    return h;
}

ojson rope_scaling_json(const GgufFile& g, const std::string& arch, const Hparams& h) {
    if (h.rope_scaling == "none" || (h.rope_scaling == "linear" && h.rope_factor == 1.0)) return nullptr;
    if (h.rope_scaling == "linear") return {{"rope_type", "linear"}, {"factor", h.rope_factor}};
    if (h.rope_scaling == "yarn") {
        ojson j = {{"rope_type", "yarn"}, {"factor", h.rope_factor}};
        if (h.rope_orig_context > 0) j["original_max_position_embeddings"] = h.rope_orig_context;
        return j;
    }
    throw Error(g.path() + ": " + arch + ".rope.scaling.type '" + h.rope_scaling +
                "' is not supported by lathe import (supported: none, linear, yarn)");
}

ojson build_config(const GgufFile& g, const GgufArch& ga, const std::string& arch, const Hparams& h, bool tied,
                   bool attention_bias, const HfTokenizerFiles& tok, const std::string& dtype) {
    ojson c;
    c["architectures"] = {ga.hf_class};
    c["model_type"] = ga.model_type;
    if (ga.transpose_conv1d) {  // gpt2
        c["vocab_size"] = h.vocab;
        c["n_embd"] = h.hidden;
        c["n_layer"] = h.n_layers;
        c["n_head"] = h.n_head;
        c["n_inner"] = h.ffn;
        c["n_positions"] = h.context;
        c["n_ctx"] = h.context;
        c["layer_norm_epsilon"] = h.eps;
        c["activation_function"] = "gelu_new";  // llama.cpp's GELU is the tanh approximation
    } else {
        c["vocab_size"] = h.vocab;
        c["hidden_size"] = h.hidden;
        c["intermediate_size"] = h.ffn;
        c["num_hidden_layers"] = h.n_layers;
        c["num_attention_heads"] = h.n_head;
        c["num_key_value_heads"] = h.n_kv_head;
        c["head_dim"] = h.head_dim;
        c["max_position_embeddings"] = h.context;
        c["rms_norm_eps"] = h.eps;
        c["rope_theta"] = h.rope_theta;
        c["rope_scaling"] = rope_scaling_json(g, arch, h);
        c["hidden_act"] = ga.ffn_activation;
        // Where the config class reads its activation from another key (Gemma's hidden_activation), that too.
        c[find_architecture(ga.model_type)->act_key] = ga.ffn_activation;
        if (ga.llama_bias_keys) {
            c["attention_bias"] = attention_bias;
            c["mlp_bias"] = false;
        }
        if (h.rope_dims != h.head_dim) {
            if (!ga.partial_rotary) {
                throw Error(g.path() + ": " + arch + ".rope.dimension_count (" + std::to_string(h.rope_dims) +
                            ") differs from the head size (" + std::to_string(h.head_dim) + "); a Hugging Face " +
                            ga.model_type + " model rotates whole heads");
            }
            c["partial_rotary_factor"] = static_cast<double>(h.rope_dims) / static_cast<double>(h.head_dim);
        }
        if (ga.original_context_key) {
            c["original_max_position_embeddings"] = h.rope_orig_context > 0 ? h.rope_orig_context : h.context;
        }
        if (ga.sliding_window_key && h.sliding_window) c["sliding_window"] = *h.sliding_window;
    }
    c["tie_word_embeddings"] = tied;
    for (auto it = tok.special_ids.begin(); it != tok.special_ids.end(); ++it) c[it.key()] = it.value();
    c["torch_dtype"] = dtype;
    return c;
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out.flush()) throw Error(path.string() + ": cannot write");
}

// Decodes one GGUF tensor to float32 in its row-major shape.
std::vector<float> dequantize_tensor(const GgufFile& g, const GgufTensorInfo& t) {
    if (!can_dequantize(t.type)) {
        throw Error(g.path() + ": tensor '" + t.name + "' is " + ggml_type_name(static_cast<uint32_t>(t.type)) +
                    ", which lathe import cannot dequantize (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, "
                    "Q5_1, Q4_K, Q5_K, Q6_K)");
    }
    std::vector<float> out(static_cast<size_t>(t.numel()));
    const int64_t cols = t.ne[0];
    const int64_t rows = t.numel() / cols;
    const uint64_t row_bytes = ggml_row_bytes(t.type, cols);
    const uint8_t* src = g.data(t);
    for (int64_t r = 0; r < rows; ++r) dequantize_row(t.type, src + r * row_bytes, out.data() + r * cols, cols);
    return out;
}

struct Converted {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
};

}  // namespace

void import_gguf(const std::string& gguf_path, const std::string& out_dir, const GgufImportOptions& options) {
    if (options.dtype != "float32" && options.dtype != "bfloat16") {
        throw Error("--dtype '" + options.dtype + "' is not supported for import (use float32 or bfloat16)");
    }
    if (fs::exists(out_dir) && !options.force) {
        throw Error(out_dir + " already exists; pass --force to replace it");
    }
    auto progress = [&](double f, const std::string& what) {
        if (options.progress) options.progress(f, what);
    };

    auto g = GgufFile::open(gguf_path);
    if (g->header().tensors.empty()) {
        throw Error(gguf_path + ": the file has no tensors (a vocabulary-only GGUF?); there is no model to import");
    }
    const std::string arch = g->get_string("general.architecture");
    const GgufArch* ga = gguf_arch_for_gguf_name(arch);
    if (!ga) {
        throw Error(gguf_path + ": general.architecture '" + arch + "' is not supported by lathe import (supported: " +
                    "llama, qwen2, qwen3, gemma, phi3, gpt2)");
    }
    const ArchSpec* spec = find_architecture(ga->model_type);
    LATHE_ASSERT(spec);
    Hparams h = read_hparams(*g, arch, *ga);

    // Every tensor in the file must have a Hugging Face name, and every weight the model needs must be there.
    const auto names = gguf_tensor_names(*spec, h.n_layers);
    std::map<std::string, const GgufTensorName*> by_gguf;
    for (const auto& n : names) by_gguf[n.gguf] = &n;
    for (const auto& t : g->header().tensors) {
        std::string base = t.name;
        std::string suffix;
        for (const char* s : {".weight", ".bias"}) {
            if (base.size() > std::strlen(s) && base.compare(base.size() - std::strlen(s), std::string::npos, s) == 0) {
                suffix = s;
                base.resize(base.size() - suffix.size());
            }
        }
        if (suffix.empty() || !by_gguf.count(base)) {
            std::string hint = t.name == "rope_freqs.weight" ? " (Llama 3 rope frequency factors are not supported by lathe import)" : "";
            throw Error(gguf_path + ": tensor '" + t.name + "' has no Hugging Face " + ga->model_type +
                        " counterpart (is " + arch + ".block_count = " + std::to_string(h.n_layers) + " right?)" + hint);
        }
    }
    for (const auto& n : names) {
        if (n.gguf == "output") continue;  // absent = tied to token_embd
        if (!g->find_tensor(n.gguf + ".weight")) {
            throw Error(gguf_path + ": tensor '" + n.gguf + ".weight' is missing (" + arch + ".block_count says " +
                        std::to_string(h.n_layers) + " layers)");
        }
    }

    // Shapes against the hyper-parameters: a file whose metadata disagrees with its tensors is refused.
    const GgufTensorInfo* embd = g->find_tensor("token_embd.weight");
    if (embd->ne.size() != 2 || embd->ne[0] != h.hidden) {
        throw Error(gguf_path + ": token_embd.weight has shape " + std::to_string(embd->ne[0]) + " x ... but " + arch +
                    ".embedding_length is " + std::to_string(h.hidden));
    }
    h.vocab = embd->ne[1];
    if (auto v = g->opt_int(arch + ".vocab_size"); v && *v != h.vocab) {
        throw Error(gguf_path + ": " + arch + ".vocab_size = " + std::to_string(*v) + " but token_embd.weight has " +
                    std::to_string(h.vocab) + " rows");
    }
    auto expect_rows = [&](const std::string& name, int64_t rows, const std::string& why) {
        const GgufTensorInfo* t = g->find_tensor(name);
        if (t && (t->ne.size() != 2 || t->ne[1] != rows)) {
            throw Error(gguf_path + ": tensor '" + name + "' has " + std::to_string(t->ne.back()) + " rows, expected " +
                        std::to_string(rows) + " (" + why + ")");
        }
    };
    for (int64_t l = 0; l < h.n_layers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        expect_rows(b + "attn_q.weight", h.n_head * h.head_dim, "head_count x head size");
        expect_rows(b + "attn_k.weight", h.n_kv_head * h.head_dim, "head_count_kv x head size");
        expect_rows(b + "attn_v.weight", h.n_kv_head * h.head_dim, "head_count_kv x head size");
        expect_rows(b + "attn_qkv.weight", (h.n_head + 2 * h.n_kv_head) * h.head_dim, "q, k and v heads");
        expect_rows(b + "ffn_gate.weight", h.ffn, "feed_forward_length");
        // A fused gate_up (Phi-3's) is llama.cpp's ffn_up: twice the rows.
        expect_rows(b + "ffn_up.weight", find_architecture(ga->model_type)->mlp == MlpKind::GatedFused ? 2 * h.ffn : h.ffn,
                    "feed_forward_length");
    }

    // Biases: llama's attention_bias puts them on q, k, v and o; qwen2 has q, k, v ones; gpt2 has all.
    const bool has_q_bias = g->find_tensor("blk.0.attn_q.bias") != nullptr;
    if (ga->qkv_biases && !has_q_bias) {
        throw Error(gguf_path + ": a " + ga->model_type + " model has q/k/v biases, but blk.0.attn_q.bias is missing");
    }
    for (const auto& t : g->header().tensors) {
        const bool is_bias = t.name.size() > 5 && t.name.compare(t.name.size() - 5, 5, ".bias") == 0;
        if (!is_bias || ga->transpose_conv1d) continue;
        const bool qkv = t.name.find("attn_q.") != std::string::npos || t.name.find("attn_k.") != std::string::npos ||
                         t.name.find("attn_v.") != std::string::npos;
        const bool o = t.name.find("attn_output.") != std::string::npos;
        const bool ok = (ga->qkv_biases && qkv) || (ga->llama_bias_keys && (qkv || o));
        if (!ok) {
            throw Error(gguf_path + ": tensor '" + t.name + "' is a bias a Hugging Face " + ga->model_type +
                        " model does not have");
        }
    }
    const bool llama_bias = ga->llama_bias_keys && has_q_bias;
    if (llama_bias) {
        for (int64_t l = 0; l < h.n_layers; ++l) {
            for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
                std::string name = "blk." + std::to_string(l) + "." + n + ".bias";
                if (!g->find_tensor(name)) throw Error(gguf_path + ": tensor '" + name + "' is missing (attention biases come in fours)");
            }
        }
    }

    // The output head: absent = tied; GPT-2 conversions write a copy of the embeddings, which is tied too.
    bool tied = g->find_tensor("output.weight") == nullptr;
    if (!tied) {
        const GgufTensorInfo* out = g->find_tensor("output.weight");
        tied = out->type == embd->type && out->ne == embd->ne &&
               std::memcmp(g->data(*out), g->data(*embd), embd->nbytes) == 0;
    }

    HfTokenizerFiles tok = hf_tokenizer_from_gguf(*g, h.context);
    const int64_t n_tokens = static_cast<int64_t>(tok.tokenizer["model"]["vocab"].size());
    if (n_tokens != h.vocab) {
        throw Error(gguf_path + ": tokenizer.ggml.tokens has " + std::to_string(n_tokens) +
                    " tokens but token_embd.weight has " + std::to_string(h.vocab) + " rows");
    }
    ojson config = build_config(*g, *ga, arch, h, tied, llama_bias, tok, options.dtype);

    // Weights: dequantize, undo the conversion's transforms, store as the chosen dtype.
    std::vector<Converted> converted;
    size_t done = 0;
    const size_t total = g->header().tensors.size();
    for (const auto& t : g->header().tensors) {
        progress(static_cast<double>(done++) / total, t.name);
        std::string base = t.name.substr(0, t.name.rfind('.'));
        const std::string suffix = t.name.substr(t.name.rfind('.'));
        const GgufTensorName* n = by_gguf.at(base);
        if (base == "output" && tied) continue;
        std::vector<float> x = dequantize_tensor(*g, t);
        std::vector<int64_t> shape = t.shape();
        const int64_t rows = shape[0];
        const int64_t cols = shape.size() > 1 ? shape[1] : 1;
        if (ga->permute_qk && (base.ends_with(".attn_q") || base.ends_with(".attn_k"))) {
            const int64_t heads = base.ends_with(".attn_q") ? h.n_head : h.n_kv_head;
            unpermute_qk_rows(x.data(), rows, cols, heads);
        }
        if (ga->norm_plus_one && suffix == ".weight" && base.ends_with("norm")) {
            for (float& v : x) v -= 1.0f;
        }
        if (ga->transpose_conv1d && suffix == ".weight" && shape.size() == 2 &&
            (base.ends_with(".attn_qkv") || base.ends_with(".attn_output") || base.ends_with(".ffn_up") ||
             base.ends_with(".ffn_down"))) {
            std::vector<float> tr(x.size());
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < cols; ++c) tr[c * rows + r] = x[r * cols + c];
            x.swap(tr);
            std::swap(shape[0], shape[1]);
        }
        Converted c{n->hf + suffix, shape, {}};
        if (options.dtype == "float32") {
            c.bytes.resize(x.size() * 4);
            std::memcpy(c.bytes.data(), x.data(), c.bytes.size());
        } else {
            c.bytes.resize(x.size() * 2);
            for (size_t i = 0; i < x.size(); ++i) {
                uint16_t b = fp32_to_bf16(x[i]);
                std::memcpy(c.bytes.data() + 2 * i, &b, 2);
            }
        }
        converted.push_back(std::move(c));
    }

    // Everything goes into a temporary folder beside OUT_DIR, renamed into place at the end (with --force,
    // the old folder is removed only once the new one is in place).
    StagedOutput staged(out_dir, options.force);
    const fs::path tmp(staged.dir());
    std::vector<TensorBytes> tensors;
    const DType dt = options.dtype == "float32" ? DType::F32 : DType::BF16;
    for (const auto& c : converted) tensors.push_back({c.name, dt, c.shape, c.bytes.data(), c.bytes.size()});
    progress(0.99, "model.safetensors");
    write_safetensors((tmp / "model.safetensors").string(), std::move(tensors), {{"format", "pt"}});
    write_text(tmp / "config.json", config.dump(2) + "\n");
    ojson gen = tok.special_ids;
    write_text(tmp / "generation_config.json", gen.dump(2) + "\n");
    write_text(tmp / "tokenizer.json", tok.tokenizer.dump(2) + "\n");
    write_text(tmp / "tokenizer_config.json", tok.tokenizer_config.dump(2) + "\n");
    staged.publish();
    progress(1.0, "done");
}

}  // namespace lathe
