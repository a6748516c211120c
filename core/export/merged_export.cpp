#include "core/export/merged_export.h"

#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <map>

#include "core/export/model_files.h"
#include "core/export/shards.h"
#include "core/export/source_model.h"
#include "core/io/tensor_io.h"
#include "core/models/linear.h"
#include "core/models/named_weights.h"
#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {

// One tensor of the output: its name as stored in the weights folder, and how to make it.
struct OutputTensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::function<at::Tensor()> make;
    uint64_t bytes() const {
        uint64_t n = element_size(dtype);
        for (int64_t d : shape) n *= static_cast<uint64_t>(d);
        return n;
    }
};

}  // namespace

DType write_merged_model(const ExportSource& source, const std::string& dir, const MergedExportOptions& options) {
    at::NoGradGuard no_grad;
    const DType out_dtype = options.dtype.value_or(stored_dtype(source.base_model));
    auto model = load_export_model(source);
    const bool conv1d = model->config.arch->conv1d;

    // Linear layers: the merged weight, computed in float32 and rounded once to the output dtype.
    // GPT-2's Conv1D weights are stored [in, out]; the model holds them transposed.
    std::map<std::string, std::function<at::Tensor()>> makers;
    for (Linear* layer : model->linears()) {
        const bool stored_transposed = conv1d && layer != &model->lm->lm_head;
        makers[layer->name + ".weight"] = [layer, stored_transposed]() {
            Linear work;
            work.weight = base_weight(*layer, at::kFloat);  // a 4-bit (QLoRA) base dequantized, as PEFT merges it
            work.lora = layer->lora;
            at::Tensor w = merged_weight(work);
            return stored_transposed ? w.t() : w;
        };
    }
    for (auto& [name, tensor] : named_weights(*model))
        if (!makers.count(name)) makers[name] = [t = tensor]() { return *t; };
    const std::string head = std::string(model->config.arch->lm_head) + ".weight";
    if (!makers.count(head)) makers[head] = [lm = model->lm.get()]() { return lm->lm_head.weight; };  // tied: the embedding

    // Every tensor the weights folder stores, under the same names; ones the model does not use
    // (buffers some checkpoints carry) are copied as they are.
    // A pre-quantized base stores each 4-bit weight as packed bytes plus absmax, quant_map, ... tensors:
    // the output holds the dequantized weight under the weight's name instead, and none of the others.
    std::map<std::string, std::vector<int64_t>> dequantized;
    for (Linear* layer : model->linears())
        if (layer->weight_4bit) dequantized[layer->name + ".weight"] = {layer->out_features(), layer->in_features()};
    auto companion_of_4bit = [&](const std::string& name) {
        for (const auto& [weight, _] : dequantized)
            if (name.size() > weight.size() + 1 && name.compare(0, weight.size() + 1, weight + ".") == 0) return true;
        return false;
    };
    Checkpoint ckpt = Checkpoint::open_dir(source.weights_dir);
    std::vector<OutputTensor> tensors;
    int64_t parameters = 0;
    for (const auto& name : ckpt.names()) {
        if (companion_of_4bit(name)) continue;
        const TensorEntry& entry = *ckpt.at(name).entry;
        const bool floating = entry.dtype == DType::F32 || entry.dtype == DType::F16 || entry.dtype == DType::BF16 || entry.dtype == DType::F64;
        auto four_bit = dequantized.find(name);
        OutputTensor t{name, floating || four_bit != dequantized.end() ? out_dtype : entry.dtype,
                       four_bit != dequantized.end() ? four_bit->second : entry.shape, nullptr};
        auto maker = makers.find(name);
        if (maker != makers.end()) t.make = maker->second;
        else t.make = [located = ckpt.at(name)]() { return tensor_view(located); };
        int64_t elements = 1;
        for (int64_t d : t.shape) elements *= d;
        tensors.push_back(std::move(t));
        parameters += elements;
    }

    std::vector<uint64_t> sizes;
    uint64_t total_bytes = 0;
    for (const auto& t : tensors) {
        sizes.push_back(t.bytes());
        total_bytes += t.bytes();
    }
    auto shards = plan_shards(sizes, options.max_shard_bytes);
    std::map<std::string, std::string> weight_map;
    uint64_t done_bytes = 0;
    for (size_t s = 0; s < shards.size(); ++s) {
        const std::string file = shard_file_name(s, shards.size());
        std::vector<std::pair<std::string, at::Tensor>> shard;
        for (size_t i : shards[s]) {
            const OutputTensor& t = tensors[i];
            if (options.progress) options.progress(static_cast<double>(done_bytes) / static_cast<double>(total_bytes), t.name);
            at::Tensor value = t.make().to(at::kCPU, to_scalar_type(t.dtype)).contiguous();
            if (value.sizes() != at::IntArrayRef(t.shape))
                throw Error(source.weights_dir + ": tensor '" + t.name + "' came out with another shape than stored; this export is a bug");
            shard.emplace_back(t.name, value);
            weight_map[t.name] = file;
            done_bytes += t.bytes();
        }
        if (options.progress) options.progress(static_cast<double>(done_bytes) / static_cast<double>(total_bytes), "writing " + file);
        save_safetensors((fs::path(dir) / file).string(), shard, {{"format", "pt"}});
    }
    if (shards.size() > 1) write_shard_index(dir, weight_map, total_bytes, parameters);

    write_model_config(source.weights_dir, dir, out_dtype);
    write_generation_config(source.base_model, dir);
    copy_tokenizer_files(source.base_model, dir);
    if (options.progress) options.progress(1.0, "model files");
    return out_dtype;
}

}  // namespace lathe
