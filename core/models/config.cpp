#include "core/models/config.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Reads one key with a clear error for a wrong type or (when required) a missing key.
class ConfigReader {
public:
    ConfigReader(const json& root, std::string path) : root_(root), path_(std::move(path)) {}

    bool has(const char* key) const {
        auto it = root_.find(key);
        return it != root_.end() && !it->is_null();
    }
    const json* get(const char* key) const {
        auto it = root_.find(key);
        return it == root_.end() || it->is_null() ? nullptr : &*it;
    }

    int64_t integer(const char* key) const {
        const json* v = get(key);
        if (!v) throw Error(path_ + ": missing key '" + key + "'");
        return as_integer(*v, key);
    }
    int64_t integer_or(const char* key, int64_t fallback) const {
        const json* v = get(key);
        return v ? as_integer(*v, key) : fallback;
    }
    double number(const char* key) const {
        const json* v = get(key);
        if (!v) throw Error(path_ + ": missing key '" + key + "'");
        return as_number(*v, key);
    }
    double number_or(const char* key, double fallback) const {
        const json* v = get(key);
        return v ? as_number(*v, key) : fallback;
    }
    bool boolean_or(const char* key, bool fallback) const {
        const json* v = get(key);
        if (!v) return fallback;
        if (!v->is_boolean()) throw Error(path_ + ": key '" + key + "' must be true or false, got " + v->dump());
        return v->get<bool>();
    }
    std::string string_or(const char* key, const std::string& fallback) const {
        const json* v = get(key);
        if (!v) return fallback;
        if (!v->is_string()) throw Error(path_ + ": key '" + key + "' must be a string, got " + v->dump());
        return v->get<std::string>();
    }
    const std::string& path() const { return path_; }

    int64_t as_integer(const json& v, const std::string& key) const {
        if (v.is_number_integer()) return v.get<int64_t>();
        if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
            return static_cast<int64_t>(v.get<double>());
        throw Error(path_ + ": key '" + key + "' must be an integer, got " + v.dump());
    }
    double as_number(const json& v, const std::string& key) const {
        if (v.is_number()) return v.get<double>();
        throw Error(path_ + ": key '" + key + "' must be a number, got " + v.dump());
    }

private:
    const json& root_;
    std::string path_;
};

int64_t positive(const ConfigReader& r, const char* key, int64_t value) {
    if (value <= 0) throw Error(r.path() + ": key '" + key + "' must be positive, got " + std::to_string(value));
    return value;
}

std::vector<int64_t> token_ids(const ConfigReader& r, const char* key) {
    const json* v = r.get(key);
    if (!v) return {};
    if (v->is_array()) {
        std::vector<int64_t> out;
        for (const auto& x : *v) out.push_back(r.as_integer(x, key));
        return out;
    }
    return {r.as_integer(*v, key)};
}

// rope_parameters (transformers 5) or rope_theta + rope_scaling (4.x).
RopeConfig read_rope(const json& root, const ConfigReader& r, int64_t max_position_embeddings) {
    RopeConfig rope;
    const json* params = r.get("rope_parameters");
    const json* scaling = r.get("rope_scaling");
    json merged = json::object();
    if (params) {
        if (!params->is_object()) throw Error(r.path() + ": key 'rope_parameters' must be an object");
        // Models with per-layer-type RoPE nest one object per attention type; Lathe's models have one.
        if (params->contains("full_attention") && (*params)["full_attention"].is_object()) merged = (*params)["full_attention"];
        else merged = *params;
    }
    if (scaling) {
        if (!scaling->is_object()) throw Error(r.path() + ": key 'rope_scaling' must be an object or null");
        for (auto it = scaling->begin(); it != scaling->end(); ++it) merged[it.key()] = it.value();
    }
    if (!merged.contains("rope_theta") && r.has("rope_theta")) merged["rope_theta"] = root["rope_theta"];
    if (!merged.contains("partial_rotary_factor") && r.has("partial_rotary_factor"))
        merged["partial_rotary_factor"] = root["partial_rotary_factor"];

    ConfigReader m(merged, r.path() + " (rope settings)");
    if (!m.has("rope_theta"))
        throw Error(r.path() + ": missing 'rope_theta' (in 'rope_parameters' or at the top level); "
                    "RoPE models differ in it, so copy it from the model's original config.json");
    rope.theta = m.number("rope_theta");
    rope.type = m.string_or("rope_type", m.string_or("type", "default"));
    rope.partial_rotary_factor = m.number_or("partial_rotary_factor", 1.0);
    if (rope.type == "default") return rope;
    if (rope.type != "linear" && rope.type != "dynamic" && rope.type != "llama3" && rope.type != "yarn")
        throw Error(r.path() + ": rope type '" + rope.type +
                    "' is not supported (Lathe supports default, linear, dynamic, llama3, yarn)");
    rope.original_max_position_embeddings = m.integer_or("original_max_position_embeddings", 0);
    if (rope.type == "yarn" && !m.has("factor") && rope.original_max_position_embeddings > 0) {
        // As transformers (DeepSeek-V3 style configs): the factor is the context extension ratio.
        rope.factor = static_cast<double>(max_position_embeddings) / rope.original_max_position_embeddings;
    } else {
        rope.factor = m.number("factor");
    }
    if (rope.factor < 1.0 && rope.type != "linear")
        throw Error(r.path() + ": rope 'factor' must be >= 1, got " + std::to_string(rope.factor));
    if (rope.type == "llama3") {
        rope.low_freq_factor = m.number("low_freq_factor");
        rope.high_freq_factor = m.number("high_freq_factor");
        if (rope.original_max_position_embeddings <= 0)
            throw Error(r.path() + ": llama3 rope needs 'original_max_position_embeddings'");
    }
    if (rope.type == "yarn") {
        if (m.has("attention_factor")) rope.attention_factor = m.number("attention_factor");
        rope.beta_fast = m.number_or("beta_fast", 32.0);
        rope.beta_slow = m.number_or("beta_slow", 1.0);
        if (m.has("mscale")) rope.mscale = m.number("mscale");
        if (m.has("mscale_all_dim")) rope.mscale_all_dim = m.number("mscale_all_dim");
        rope.truncate = m.boolean_or("truncate", true);
    }
    return rope;
}

void read_decoder(const json& root, const ConfigReader& r, ModelConfig& c) {
    const ArchSpec& arch = *c.arch;
    if (arch.config_keys == ConfigKeys::Gpt2) {
        c.vocab_size = positive(r, "vocab_size", r.integer("vocab_size"));
        c.hidden_size = positive(r, "n_embd", r.integer("n_embd"));
        c.num_layers = positive(r, "n_layer", r.integer("n_layer"));
        c.num_heads = positive(r, "n_head", r.integer("n_head"));
        c.num_kv_heads = c.num_heads;
        c.intermediate_size = r.integer_or("n_inner", 4 * c.hidden_size);  // GPT2MLP: n_inner or 4 * n_embd
        c.max_position_embeddings = positive(r, "n_positions", r.integer("n_positions"));
        c.norm_eps = r.number("layer_norm_epsilon");
        c.scale_attn_weights = r.boolean_or("scale_attn_weights", true);
        c.scale_attn_by_inverse_layer_idx = r.boolean_or("scale_attn_by_inverse_layer_idx", false);
    } else {
        c.vocab_size = positive(r, "vocab_size", r.integer("vocab_size"));
        c.hidden_size = positive(r, "hidden_size", r.integer("hidden_size"));
        c.intermediate_size = positive(r, "intermediate_size", r.integer("intermediate_size"));
        c.num_layers = positive(r, "num_hidden_layers", r.integer("num_hidden_layers"));
        c.num_heads = positive(r, "num_attention_heads", r.integer("num_attention_heads"));
        c.num_kv_heads = positive(r, "num_key_value_heads", r.integer_or("num_key_value_heads", c.num_heads));
        c.max_position_embeddings = positive(r, "max_position_embeddings", r.integer("max_position_embeddings"));
        c.norm_eps = r.number("rms_norm_eps");
        c.rope = read_rope(root, r, c.max_position_embeddings);
        // Sliding windows only matter where the model applies them.
        if (r.has("sliding_window")) {
            const bool used = arch.sliding_window == SlidingWindowRule::Always ||
                              (arch.sliding_window == SlidingWindowRule::WhenEnabled && r.boolean_or("use_sliding_window", false));
            if (used) c.sliding_window = positive(r, "sliding_window", r.integer("sliding_window"));
        }
    }
    // Gemma's first checkpoints say hidden_act "gelu" but were trained with the tanh approximation;
    // transformers reads `hidden_activation` (its act_key), else gelu_pytorch_tanh, and so do we.
    c.hidden_act = r.string_or(arch.act_key, arch.default_act);
    auto has_bias = [&](BiasRule rule, const char* key) {
        return rule == BiasRule::Always || (rule == BiasRule::FromConfig && r.boolean_or(key, false));
    };
    c.attention_bias = has_bias(arch.qkv_bias, "attention_bias");
    c.o_bias = has_bias(arch.o_bias, "attention_bias");
    c.mlp_bias = has_bias(arch.mlp_bias, "mlp_bias");
    if (c.num_heads % c.num_kv_heads != 0)
        throw Error(r.path() + ": num_attention_heads (" + std::to_string(c.num_heads) +
                    ") must be a multiple of num_key_value_heads (" + std::to_string(c.num_kv_heads) + ")");
    if (r.has("head_dim")) {
        c.head_dim = positive(r, "head_dim", r.integer("head_dim"));
    } else {
        if (c.hidden_size % c.num_heads != 0)
            throw Error(r.path() + ": hidden_size is not a multiple of the number of heads and there is no 'head_dim'");
        c.head_dim = c.hidden_size / c.num_heads;
    }
    auto probability = [&](const ArchSpec::Dropout& d) {
        if (!d.key) return 0.0;
        const double p = r.number_or(d.key, d.default_p);
        if (p < 0.0 || p >= 1.0) throw Error(r.path() + ": key '" + d.key + "' must be a probability in [0, 1), got " + std::to_string(p));
        return p;
    };
    c.dropout = {.embedding = probability(arch.embedding_dropout), .attention = probability(arch.attention_dropout),
                 .residual = probability(arch.residual_dropout)};
    static const char* kActs[] = {"silu", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "gelu_fast"};
    bool known = false;
    for (const char* a : kActs) known |= c.hidden_act == a;
    if (!known) throw Error(r.path() + ": activation '" + c.hidden_act + "' is not supported");
}

void read_bert(const ConfigReader& r, ModelConfig& c) {
    c.vocab_size = positive(r, "vocab_size", r.integer("vocab_size"));
    c.hidden_size = positive(r, "hidden_size", r.integer("hidden_size"));
    c.intermediate_size = positive(r, "intermediate_size", r.integer("intermediate_size"));
    c.num_layers = positive(r, "num_hidden_layers", r.integer("num_hidden_layers"));
    c.num_heads = positive(r, "num_attention_heads", r.integer("num_attention_heads"));
    c.num_kv_heads = c.num_heads;
    if (c.hidden_size % c.num_heads != 0) throw Error(r.path() + ": hidden_size must be a multiple of num_attention_heads");
    c.head_dim = c.hidden_size / c.num_heads;
    c.max_position_embeddings = positive(r, "max_position_embeddings", r.integer("max_position_embeddings"));
    c.type_vocab_size = r.integer_or("type_vocab_size", 2);
    c.norm_eps = r.number("layer_norm_eps");
    c.hidden_act = r.string_or("hidden_act", "gelu");
    if (c.hidden_act != "gelu" && c.hidden_act != "relu" && c.hidden_act != "gelu_new")
        throw Error(r.path() + ": activation '" + c.hidden_act + "' is not supported for BERT");
    std::string pos_type = r.string_or("position_embedding_type", "absolute");
    if (pos_type != "absolute")
        throw Error(r.path() + ": position_embedding_type '" + pos_type + "' is not supported (only 'absolute')");
    const json* id2label = r.get("id2label");
    if (id2label && id2label->is_object()) {
        c.num_labels = static_cast<int64_t>(id2label->size());
        c.labels.resize(c.num_labels);
        for (auto it = id2label->begin(); it != id2label->end(); ++it) {
            int64_t id = -1;
            try { id = std::stoll(it.key()); } catch (...) {}
            if (id < 0 || id >= c.num_labels || !it.value().is_string())
                throw Error(r.path() + ": id2label entry '" + it.key() + "' is not a label id 0.." + std::to_string(c.num_labels - 1));
            c.labels[id] = it.value().get<std::string>();
        }
    } else {
        c.num_labels = r.integer_or("num_labels", 2);
    }
}

}  // namespace

ModelConfig read_model_config(const std::string& dir_or_file) {
    fs::path path = fs::is_directory(dir_or_file) ? fs::path(dir_or_file) / "config.json" : fs::path(dir_or_file);
    if (!fs::exists(path)) throw Error(path.string() + ": not found; a Hugging Face model folder has a config.json");
    json root = read_json_file(path.string());
    if (!root.is_object()) throw Error(path.string() + ": must be a JSON object");
    ConfigReader r(root, path.string());

    ModelConfig c;
    c.path = path.string();
    c.model_type = r.string_or("model_type", "");
    if (c.model_type.empty()) throw Error(path.string() + ": missing key 'model_type'");
    c.arch = find_architecture(c.model_type);
    if (!c.arch) {
        std::string list;
        for (const auto& t : supported_model_types()) list += (list.empty() ? "" : ", ") + t;
        throw Error(path.string() + ": model_type '" + c.model_type + "' is not supported (supported: " + list + ")");
    }
    c.torch_dtype = r.string_or("dtype", r.string_or("torch_dtype", ""));
    c.quantization = quant::read_quantization_config(root, path.string());
    c.tie_word_embeddings = r.boolean_or("tie_word_embeddings", c.arch->tie_default);
    if (r.has("bos_token_id")) c.bos_token_id = r.integer("bos_token_id");
    if (r.has("pad_token_id")) c.pad_token_id = r.integer("pad_token_id");
    c.eos_token_ids = token_ids(r, "eos_token_id");

    if (c.arch->family == Family::BertClassifier) read_bert(r, c);
    else read_decoder(root, r, c);
    return c;
}

}  // namespace lathe
