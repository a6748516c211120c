#include "core/quant/quantization_config.h"

#include <nlohmann/json.hpp>

#include "core/util/error.h"

namespace lathe::quant {

namespace {

using nlohmann::json;

// transformers writes dtypes as "bfloat16"; older files and hand-written ones say "torch.bfloat16".
std::string dtype_name(const json& value) {
    std::string name = value.get<std::string>();
    if (name.rfind("torch.", 0) == 0) name = name.substr(6);
    return name;
}

}  // namespace

std::optional<BnbQuantizationConfig> read_quantization_config(const json& root, const std::string& where) {
    if (!root.contains("quantization_config") || root["quantization_config"].is_null()) return std::nullopt;
    const json& q = root["quantization_config"];
    auto fail = [&](const std::string& key, const std::string& what) {
        return Error(where + ": quantization_config." + key + " " + what);
    };
    if (!q.is_object()) throw Error(where + ": quantization_config must be an object");
    auto string_at = [&](const char* key, const std::string& fallback) {
        if (!q.contains(key) || q[key].is_null()) return fallback;
        if (!q[key].is_string()) throw fail(key, "must be a string");
        return dtype_name(q[key]);
    };
    auto bool_at = [&](const char* key) {
        if (!q.contains(key) || q[key].is_null()) return false;
        if (!q[key].is_boolean()) throw fail(key, "must be true or false");
        return q[key].get<bool>();
    };

    const std::string method = string_at("quant_method", "");
    if (method != "bitsandbytes")
        throw fail("quant_method", "is '" + method + "'; Lathe loads only bitsandbytes 4-bit (nf4/fp4) checkpoints, "
                   "not GPTQ, AWQ or other methods: use the model's unquantized weights");
    if (bool_at("load_in_8bit") || bool_at("_load_in_8bit"))
        throw fail("load_in_8bit", "is true; Lathe supports bitsandbytes 4-bit (load_in_4bit), not LLM.int8() 8-bit weights");
    if (!bool_at("load_in_4bit") && !bool_at("_load_in_4bit"))
        throw fail("load_in_4bit", "is not true; Lathe supports bitsandbytes checkpoints quantized to 4 bits");

    BnbQuantizationConfig config;
    config.quant_type = string_at("bnb_4bit_quant_type", "fp4");  // BitsAndBytesConfig's default
    if (config.quant_type != "nf4" && config.quant_type != "fp4")
        throw fail("bnb_4bit_quant_type", "is '" + config.quant_type + "'; use nf4 or fp4");
    config.double_quant = bool_at("bnb_4bit_use_double_quant");
    config.compute_dtype = string_at("bnb_4bit_compute_dtype", "float32");
    if (config.compute_dtype != "float32" && config.compute_dtype != "bfloat16" && config.compute_dtype != "float16")
        throw fail("bnb_4bit_compute_dtype", "is '" + config.compute_dtype + "'; use float32, bfloat16 or float16");
    config.quant_storage = string_at("bnb_4bit_quant_storage", "uint8");
    if (config.quant_storage != "uint8" && config.quant_storage != "float32" && config.quant_storage != "bfloat16" &&
        config.quant_storage != "float16")
        throw fail("bnb_4bit_quant_storage", "is '" + config.quant_storage + "'; use uint8, float32, bfloat16 or float16");
    if (q.contains("llm_int8_skip_modules") && !q["llm_int8_skip_modules"].is_null()) {
        const json& skip = q["llm_int8_skip_modules"];
        if (!skip.is_array()) throw fail("llm_int8_skip_modules", "must be a list of module names");
        for (const json& name : skip) {
            if (!name.is_string()) throw fail("llm_int8_skip_modules", "must be a list of module names");
            config.skip_modules.push_back(name.get<std::string>());
        }
    }
    return config;
}

json quantization_config_json(const BnbQuantizationConfig& config) {
    json skip = config.skip_modules.empty() ? json(nullptr) : json(config.skip_modules);
    return json{{"_load_in_4bit", true},
                {"_load_in_8bit", false},
                {"bnb_4bit_compute_dtype", config.compute_dtype},
                {"bnb_4bit_quant_storage", config.quant_storage},
                {"bnb_4bit_quant_type", config.quant_type},
                {"bnb_4bit_use_double_quant", config.double_quant},
                {"llm_int8_enable_fp32_cpu_offload", false},
                {"llm_int8_has_fp16_weight", false},
                {"llm_int8_skip_modules", skip},
                {"llm_int8_threshold", 6.0},
                {"load_in_4bit", true},
                {"load_in_8bit", false},
                {"quant_method", "bitsandbytes"}};
}

std::string describe(const BnbQuantizationConfig& config) {
    std::string text = "bitsandbytes 4-bit " + config.quant_type;
    if (config.double_quant) text += ", double quantization";
    text += ", compute " + config.compute_dtype;
    return text;
}

}  // namespace lathe::quant
