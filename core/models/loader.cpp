#include "core/models/loader.h"

#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>

#include <set>
#include <sstream>

#include "core/io/tensor_io.h"
#include "core/quant/bnb_checkpoint.h"
#include "core/util/error.h"

namespace lathe {

namespace {

std::string shape_string(at::IntArrayRef shape) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    s << "]";
    return s.str();
}

// Takes tensors out of a checkpoint, checks their shapes and remembers which were used. Without a
// checkpoint it makes random weights of the right shapes instead (benchmarks of real model sizes).
class WeightReader {
public:
    WeightReader(const Checkpoint* ckpt, const LoadOptions& options, const ModelConfig& config)
        : ckpt_(ckpt), options_(options), config_(config) {}

    at::Tensor take(const std::string& name, std::vector<int64_t> shape) {
        if (!ckpt_) return random_weight(name, shape);
        LocatedTensor located = ckpt_->at(name);
        at::Tensor t = tensor_view(located);
        if (t.sizes() != at::IntArrayRef(shape))
            throw Error(located.file->path() + ": tensor '" + name + "' has shape " + shape_string(t.sizes()) +
                        " but " + config_.path + " implies " + shape_string(shape));
        if (!at::isFloatingType(t.scalar_type()))
            throw Error(located.file->path() + ": tensor '" + name + "' is " + c10::toString(t.scalar_type()) +
                        "; model weights must be floating point");
        used_.insert(name);
        at::ScalarType dtype = options_.dtype.value_or(t.scalar_type());
        if (t.device() == options_.device && t.scalar_type() == dtype) return t;  // zero-copy view
        return t.to(options_.device, dtype);
    }
    bool has(const std::string& name) const { return ckpt_ ? ckpt_->contains(name) : true; }

    // A bitsandbytes 4-bit weight saved by transformers (NAME plus its absmax, quant_map, quant_state...).
    bool has_4bit(const std::string& name) const {
        return ckpt_ && !quant::bnb_quant_state_key(name, [this](const std::string& n) { return ckpt_->contains(n); }).empty();
    }
    std::shared_ptr<const quant::Bnb4bitTensor> take_4bit(const std::string& name, std::vector<int64_t> shape) {
        LocatedTensor first = ckpt_->at(name);
        auto take_raw = [this](const std::string& n) {
            at::Tensor t = tensor_view(ckpt_->at(n));
            used_.insert(n);
            return t;
        };
        auto has_name = [this](const std::string& n) { return ckpt_->contains(n); };
        auto weight = quant::read_bnb_4bit_weight(name, shape, take_raw, has_name, first.file->path());
        return std::make_shared<const quant::Bnb4bitTensor>(on_device(std::move(weight)));
    }

    // options.load_in_4bit: the float weight quantized as bitsandbytes does (on the CPU, then moved).
    std::shared_ptr<const quant::Bnb4bitTensor> quantize_4bit(const std::string& name, std::vector<int64_t> shape) {
        const quant::BnbQuantizationConfig& config = *options_.load_in_4bit;
        at::Tensor weight = take(name, std::move(shape)).to(at::kCPU);
        at::ScalarType storage = config.quant_storage == "uint8" ? at::kByte : parse_dtype(config.quant_storage);
        auto q = quant::quantize_4bit(weight, {.type = *quant::parse_bnb_4bit_type(config.quant_type), .blocksize = 64,
                                               .double_quant = config.double_quant, .storage = storage});
        return std::make_shared<const quant::Bnb4bitTensor>(on_device(std::move(q)));
    }
    bool quantizing_on_load() const { return options_.load_in_4bit.has_value(); }
    // bnb_4bit_compute_dtype of the quantization in force (config.json's, or load_in_4bit's).
    at::ScalarType compute_dtype_4bit() const {
        return parse_dtype(config_.quantization ? config_.quantization->compute_dtype : std::string("float32"));
    }

    std::vector<std::string> unused() const {
        std::vector<std::string> out;
        if (ckpt_)
            for (const auto& name : ckpt_->names())
                if (!used_.count(name)) out.push_back(name);
        return out;
    }

private:
    quant::Bnb4bitTensor on_device(quant::Bnb4bitTensor weight) const {
        if (options_.device == weight.packed.device()) return weight;
        weight.packed = weight.packed.to(options_.device);
        weight.state.absmax = weight.state.absmax.to(options_.device);
        weight.state.quant_map = weight.state.quant_map.to(options_.device);
        if (weight.state.nested) {
            weight.state.nested->absmax = weight.state.nested->absmax.to(options_.device);
            weight.state.nested->quant_map = weight.state.nested->quant_map.to(options_.device);
        }
        return weight;
    }

    at::Tensor random_weight(const std::string& name, const std::vector<int64_t>& shape) const {
        auto opts = at::TensorOptions().device(options_.device).dtype(options_.dtype.value_or(at::kFloat));
        if (shape.size() >= 2) return at::randn(shape, opts) * 0.02;  // made on the device: no host copy of an 8B model
        bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
        return bias ? at::zeros(shape, opts) : at::ones(shape, opts);
    }

    const Checkpoint* ckpt_;
    const LoadOptions& options_;
    const ModelConfig& config_;
    std::set<std::string> used_;
};

Linear take_linear(WeightReader& w, const std::string& name, int64_t out, int64_t in, bool bias, bool conv1d) {
    Linear l;
    l.name = name;
    if (w.has_4bit(name + ".weight")) {
        // bitsandbytes quantizes nn.Linear only; GPT-2's Conv1D layers stay in their float dtype.
        l.weight_4bit = w.take_4bit(name + ".weight", {out, in});
    } else if (w.quantizing_on_load()) {
        if (conv1d) throw Error(name + ": load_in_4bit: Lathe does not quantize GPT-2's Conv1D layers");
        l.weight_4bit = w.quantize_4bit(name + ".weight", {out, in});
    } else if (conv1d) {
        l.weight = w.take(name + ".weight", {in, out}).t();  // stored [in, out]: a transposed view
    } else {
        l.weight = w.take(name + ".weight", {out, in});
    }
    if (bias) l.bias = w.take(name + ".bias", {out});
    if (l.weight_4bit) l.compute_dtype = w.compute_dtype_4bit();
    return l;
}

Norm take_norm(WeightReader& w, const std::string& name, int64_t size, bool with_bias) {
    Norm n;
    n.weight = w.take(name + ".weight", {size});
    if (with_bias) n.bias = w.take(name + ".bias", {size});
    return n;
}

std::unique_ptr<DecoderLM> load_decoder(WeightReader& w, const ModelConfig& c, const LoadOptions& options) {
    const ArchSpec& a = *c.arch;
    auto lm = std::make_unique<DecoderLM>();
    lm->config = c;
    const int64_t hidden = c.hidden_size, H = c.num_heads, KV = c.num_kv_heads, D = c.head_dim, I = c.intermediate_size;
    const bool layer_norm = a.norm == NormKind::LayerNorm;

    lm->embed = w.take(std::string(a.embed) + ".weight", {c.vocab_size, hidden});
    if (a.positions == Positions::Learned) lm->pos_embed = w.take(std::string(a.pos_embed) + ".weight", {c.max_position_embeddings, hidden});
    for (int i = 0; i < c.num_layers; ++i) {
        DecoderLayer L;
        auto name = [i](const char* tmpl) { return layer_tensor_name(tmpl, i); };
        L.attn_norm = take_norm(w, name(a.attn_norm), hidden, layer_norm);
        L.mlp_norm = take_norm(w, name(a.mlp_norm), hidden, layer_norm);
        if (a.fused_qkv) {
            L.qkv = take_linear(w, name(a.qkv), (H + 2 * KV) * D, hidden, c.attention_bias, a.conv1d);
        } else {
            L.q = take_linear(w, name(a.q), H * D, hidden, c.attention_bias, a.conv1d);
            L.k = take_linear(w, name(a.k), KV * D, hidden, c.attention_bias, a.conv1d);
            L.v = take_linear(w, name(a.v), KV * D, hidden, c.attention_bias, a.conv1d);
        }
        L.o = take_linear(w, name(a.o), hidden, H * D, c.o_bias, a.conv1d);
        if (a.qk_norm) {
            L.q_norm = w.take(name(a.q_norm) + ".weight", {D});
            L.k_norm = w.take(name(a.k_norm) + ".weight", {D});
        }
        switch (a.mlp) {
            case MlpKind::Gated:
                L.gate = take_linear(w, name(a.gate), I, hidden, c.mlp_bias, a.conv1d);
                L.up = take_linear(w, name(a.up), I, hidden, c.mlp_bias, a.conv1d);
                break;
            case MlpKind::GatedFused:
                L.gate_up = take_linear(w, name(a.gate_up), 2 * I, hidden, c.mlp_bias, a.conv1d);
                break;
            case MlpKind::Plain:
                L.up = take_linear(w, name(a.up), I, hidden, c.mlp_bias, a.conv1d);
                break;
        }
        L.down = take_linear(w, name(a.down), hidden, I, c.mlp_bias, a.conv1d);
        lm->layers.push_back(std::move(L));
    }
    lm->final_norm = take_norm(w, a.final_norm, hidden, layer_norm);

    lm->lm_head.name = a.lm_head;
    std::string head = std::string(a.lm_head) + ".weight";
    if (c.tie_word_embeddings) {
        lm->lm_head.weight = lm->embed;  // transformers ties, ignoring any saved lm_head
        if (w.has(head)) w.take(head, {c.vocab_size, hidden});
    } else {
        if (!w.has(head))
            throw Error(c.path + " says tie_word_embeddings is false, but the checkpoint has no '" + head +
                        "'; the model would have an untrained output layer");
        lm->lm_head.weight = w.take(head, {c.vocab_size, hidden});
    }
    if (a.positions == Positions::Rope) lm->rotary = RotaryEmbedding(c, options.device);
    return lm;
}

std::unique_ptr<BertClassifier> load_bert(WeightReader& w, const ModelConfig& c) {
    auto m = std::make_unique<BertClassifier>();
    m->config = c;
    const int64_t hidden = c.hidden_size, I = c.intermediate_size;
    m->word_embeddings = w.take("bert.embeddings.word_embeddings.weight", {c.vocab_size, hidden});
    m->position_embeddings = w.take("bert.embeddings.position_embeddings.weight", {c.max_position_embeddings, hidden});
    m->token_type_embeddings = w.take("bert.embeddings.token_type_embeddings.weight", {c.type_vocab_size, hidden});
    m->embeddings_norm = take_norm(w, "bert.embeddings.LayerNorm", hidden, true);
    for (int i = 0; i < c.num_layers; ++i) {
        std::string p = "bert.encoder.layer." + std::to_string(i) + ".";
        BertLayer L;
        L.query = take_linear(w, p + "attention.self.query", hidden, hidden, true, false);
        L.key = take_linear(w, p + "attention.self.key", hidden, hidden, true, false);
        L.value = take_linear(w, p + "attention.self.value", hidden, hidden, true, false);
        L.attn_out = take_linear(w, p + "attention.output.dense", hidden, hidden, true, false);
        L.attn_norm = take_norm(w, p + "attention.output.LayerNorm", hidden, true);
        L.intermediate = take_linear(w, p + "intermediate.dense", I, hidden, true, false);
        L.output = take_linear(w, p + "output.dense", hidden, I, true, false);
        L.output_norm = take_norm(w, p + "output.LayerNorm", hidden, true);
        m->layers.push_back(std::move(L));
    }
    m->pooler = take_linear(w, "bert.pooler.dense", hidden, hidden, true, false);
    if (!w.has("classifier.weight"))
        throw Error(c.path + ": the checkpoint has no 'classifier.weight'; Lathe loads BERT with a sequence-classification head");
    m->classifier = take_linear(w, "classifier", c.num_labels, hidden, true, false);
    return m;
}

}  // namespace

std::unique_ptr<LoadedModel> load_model(const std::string& dir, const LoadOptions& options) {
    auto model = std::make_unique<LoadedModel>();
    model->config = read_model_config(dir);
    Checkpoint ckpt = Checkpoint::open_dir(dir);
    if (options.load_in_4bit) {
        if (model->config.quantization)
            throw Error(dir + ": load_in_4bit asked for, but the checkpoint is already quantized (" +
                        quant::describe(*model->config.quantization) + "); it loads in 4 bits as it is");
        if (model->config.arch->family != Family::DecoderLM) throw Error(dir + ": load_in_4bit: only causal language models are quantized");
        model->config.quantization = options.load_in_4bit;
    }
    WeightReader reader(&ckpt, options, model->config);
    if (model->config.arch->family == Family::BertClassifier) model->classifier = load_bert(reader, model->config);
    else model->lm = load_decoder(reader, model->config, options);
    model->unused_tensors = reader.unused();
    return model;
}

std::unique_ptr<LoadedModel> random_model(const std::string& config_path, const LoadOptions& options) {
    auto model = std::make_unique<LoadedModel>();
    model->config = read_model_config(config_path);
    if (options.load_in_4bit) model->config.quantization = options.load_in_4bit;
    WeightReader reader(nullptr, options, model->config);
    if (model->config.arch->family == Family::BertClassifier) model->classifier = load_bert(reader, model->config);
    else model->lm = load_decoder(reader, model->config, options);
    return model;
}

c10::Device parse_device(const std::string& name) {
    c10::Device device(c10::kCPU);
    try {
        device = c10::Device(name);
    } catch (const std::exception&) {
        throw Error("device '" + name + "' is not valid; use cpu, cuda or cuda:N");
    }
    if (device.is_cuda()) {
        if (!at::hasCUDA()) throw Error("device '" + name + "' asked for, but no CUDA GPU is available");
    } else if (!device.is_cpu()) {
        throw Error("device '" + name + "' is not supported; use cpu or cuda");
    }
    return device;
}

at::ScalarType parse_dtype(const std::string& name) {
    if (name == "float32" || name == "fp32" || name == "f32") return at::kFloat;
    if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
    if (name == "float16" || name == "fp16" || name == "f16" || name == "half") return at::kHalf;
    throw Error("dtype '" + name + "' is not supported; use float32, bfloat16 or float16");
}

}  // namespace lathe
