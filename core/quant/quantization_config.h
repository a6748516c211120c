// config.json's `quantization_config`, as transformers writes it for bitsandbytes 4-bit checkpoints
// (BitsAndBytesConfig.to_dict). Lathe honours quant_method "bitsandbytes" with load_in_4bit; anything
// else (8-bit, GPTQ, AWQ, an unknown quant type) is an error naming the key. Torch-free.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

namespace lathe::quant {

struct BnbQuantizationConfig {
    std::string quant_type = "nf4";         // bnb_4bit_quant_type: nf4 or fp4
    bool double_quant = false;              // bnb_4bit_use_double_quant
    std::string compute_dtype = "float32";  // bnb_4bit_compute_dtype: float32, bfloat16 or float16
    std::string quant_storage = "uint8";    // bnb_4bit_quant_storage: uint8, float32, bfloat16 or float16
    std::vector<std::string> skip_modules;  // llm_int8_skip_modules: kept in their float dtype

    bool operator==(const BnbQuantizationConfig&) const = default;
};

// Reads root["quantization_config"] (nullopt when absent). `where` names the file in errors.
std::optional<BnbQuantizationConfig> read_quantization_config(const nlohmann::json& root, const std::string& where);

// The quantization_config object transformers writes for this configuration.
nlohmann::json quantization_config_json(const BnbQuantizationConfig& config);

// "bitsandbytes nf4, double quantization, compute bfloat16": for `lathe info` and the Studio.
std::string describe(const BnbQuantizationConfig& config);

}  // namespace lathe::quant
