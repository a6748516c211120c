// Loads a Hugging Face model folder (config.json + safetensors) into a DecoderLM or BertClassifier,
// checking every tensor's presence and shape against the config.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/models/bert.h"
#include "core/models/decoder_lm.h"

namespace lathe {

struct LoadOptions {
    c10::Device device = c10::Device(c10::kCPU);
    // The dtype to compute in; nullopt keeps the checkpoint's own (float32 for float32 files).
    std::optional<at::ScalarType> dtype;
    // Quantize every linear layer of the decoder blocks to bitsandbytes 4-bit while loading, as
    // transformers does with BitsAndBytesConfig(load_in_4bit=True): from the weight in the dtype above,
    // block size 64; embeddings, norms and lm_head stay. Only the 4-bit bytes stay resident.
    std::optional<quant::BnbQuantizationConfig> load_in_4bit;
};

struct LoadedModel {
    ModelConfig config;
    std::unique_ptr<DecoderLM> lm;              // causal LMs
    std::unique_ptr<BertClassifier> classifier; // BERT
    std::vector<std::string> unused_tensors;    // in the checkpoint but not part of the model
    // Weights an adapter trains in full and saves whole (PEFT's modules_to_save), by full name
    // ("lm_head.weight").
    std::vector<std::string> saved_modules;

    std::vector<Linear*> linears() { return lm ? lm->linears() : classifier->linears(); }
};

std::unique_ptr<LoadedModel> load_model(const std::string& dir, const LoadOptions& options = {});

// A model of the shape config.json describes, with random weights made directly on the device (float32
// unless options say otherwise): for benchmarks of real model sizes without their checkpoints.
std::unique_ptr<LoadedModel> random_model(const std::string& config_path, const LoadOptions& options = {});

// "cpu", "cuda", "cuda:1" -> device; errors name what was asked for and what exists.
c10::Device parse_device(const std::string& name);
// "float32"/"fp32"/"f32", "bfloat16"/"bf16", "float16"/"fp16"/"half" -> type.
at::ScalarType parse_dtype(const std::string& name);

}  // namespace lathe
