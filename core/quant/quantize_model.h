// `lathe quantize`: a float Hugging Face checkpoint written as the 4-bit folder transformers +
// bitsandbytes save (every linear layer of the decoder blocks as a Linear4bit weight; embeddings, norms
// and lm_head as they were; config.json with quantization_config), built in a staged folder.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/quant/quantization_config.h"

namespace lathe::quant {

struct QuantizeModelOptions {
    BnbQuantizationConfig config;             // quant_type, double_quant, compute_dtype
    uint64_t max_shard_bytes = 5'000'000'000;
    bool force = false;                       // replace OUTPUT
    std::function<void(double fraction, const std::string& what)> progress;
};

struct QuantizeModelResult {
    int quantized_layers = 0;
    uint64_t bytes_written = 0;
};

QuantizeModelResult quantize_model(const std::string& model_dir, const std::string& output_dir,
                                   const QuantizeModelOptions& options);

}  // namespace lathe::quant
