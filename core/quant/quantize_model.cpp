#include "core/quant/quantize_model.h"

#include <ATen/core/grad_mode.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/export/model_files.h"
#include "core/export/shards.h"
#include "core/export/staged_output.h"
#include "core/io/tensor_io.h"
#include "core/models/loader.h"
#include "core/quant/bnb_checkpoint.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe::quant {

namespace fs = std::filesystem;

QuantizeModelResult quantize_model(const std::string& model_dir, const std::string& output_dir,
                                   const QuantizeModelOptions& options) {
    at::NoGradGuard no_grad;
    const BnbQuantizationConfig& config = options.config;
    auto type = parse_bnb_4bit_type(config.quant_type);
    if (!type) throw Error("--quant-type '" + config.quant_type + "' is not nf4 or fp4");
    at::ScalarType storage = config.quant_storage == "uint8" ? at::kByte : parse_dtype(config.quant_storage);

    auto model = load_model(model_dir);  // zero-copy views of the checkpoint on the CPU
    if (model->config.quantization)
        throw Error(model_dir + ": already quantized (" + describe(*model->config.quantization) + "); quantize its float weights");
    if (!model->lm) throw Error(model_dir + ": lathe quantize supports causal language models");
    if (model->config.arch->conv1d)
        throw Error(model_dir + ": " + model->config.model_type + " stores its layers as Conv1D, which Lathe does not quantize");

    // transformers quantizes every nn.Linear of the decoder blocks; lm_head stays (get_keys_to_not_convert).
    std::map<std::string, const Linear*> to_quantize;
    for (Linear* layer : model->linears())
        if (layer != &model->lm->lm_head) to_quantize[layer->name + ".weight"] = layer;

    Checkpoint ckpt = Checkpoint::open_dir(model_dir);
    const std::vector<std::string> names = ckpt.names();
    StagedOutput staged(output_dir, options.force);

    // One output group per source tensor: a quantized weight becomes its six bitsandbytes tensors.
    std::vector<uint64_t> sizes;
    for (const auto& name : names) {
        const TensorEntry& e = *ckpt.at(name).entry;
        uint64_t bytes = static_cast<uint64_t>(e.numel()) * element_size(e.dtype);
        sizes.push_back(to_quantize.count(name) ? bytes * 4 / (8 * element_size(e.dtype)) + 1024 : bytes);
    }
    auto shards = plan_shards(sizes, options.max_shard_bytes);
    std::map<std::string, std::string> weight_map;
    QuantizeModelResult result;
    int64_t parameters = 0;
    size_t done = 0;
    for (size_t s = 0; s < shards.size(); ++s) {
        const std::string file = shard_file_name(s, shards.size());
        std::vector<std::pair<std::string, at::Tensor>> shard;
        for (size_t i : shards[s]) {
            const std::string& name = names[i];
            if (options.progress) options.progress(static_cast<double>(done++) / static_cast<double>(names.size()), name);
            auto layer = to_quantize.find(name);
            if (layer == to_quantize.end()) {
                at::Tensor t = tensor_view(ckpt.at(name));
                parameters += t.numel();
                shard.emplace_back(name, t);
                continue;
            }
            at::Tensor weight = layer->second->weight;
            parameters += weight.numel();
            Bnb4bitTensor q = quantize_4bit(weight, {.type = *type, .blocksize = 64, .double_quant = config.double_quant,
                                                     .storage = storage});
            for (auto& entry : bnb_4bit_weight_tensors(name, q)) shard.push_back(std::move(entry));
            ++result.quantized_layers;
        }
        for (auto& [name, t] : shard) {
            weight_map[name] = file;
            result.bytes_written += static_cast<uint64_t>(t.numel()) * t.element_size();
        }
        save_safetensors((fs::path(staged.dir()) / file).string(), shard, {{"format", "pt"}});
    }
    if (shards.size() > 1) write_shard_index(staged.dir(), weight_map, result.bytes_written, parameters);

    write_model_config(model_dir, staged.dir(), stored_dtype(model_dir));
    const std::string config_path = (fs::path(staged.dir()) / "config.json").string();
    nlohmann::json written = read_json_file(config_path);
    written["quantization_config"] = quantization_config_json(config);
    write_text_file(staged.dir(), "config.json", written.dump(2) + "\n");
    write_generation_config(model_dir, staged.dir());
    copy_tokenizer_files(model_dir, staged.dir());
    staged.publish();
    if (options.progress) options.progress(1.0, "done");
    return result;
}

}  // namespace lathe::quant
