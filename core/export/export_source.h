// What `lathe export` exports, resolved from its flags: a run (and one of its checkpoints), a PEFT
// adapter on a base model, or a folder of full weights (a full-finetune checkpoint). Torch-free: it
// reads the run store and the checkpoint's small files, not the weights.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/quant/quantization_config.h"

namespace lathe {

struct ExportSourceRequest {
    int64_t run_id = 0;                 // --run
    std::string checkpoint = "latest";  // --checkpoint: a step of the run, or "latest"
    std::string store;                  // --store: run store database (empty: the default one)
    std::string adapter_dir;            // --adapter: PEFT adapter folder or LoRA checkpoint
    std::string model_dir;              // --model: full weights (config.json + safetensors)
    std::string base_model;             // --base-model
};

// Where the weights came from, for the model card. Empty fields are unknown.
struct ExportProvenance {
    int64_t run_id = 0;
    std::string run_name;
    std::string config_text;            // the run's YAML
    nlohmann::json datasets = nlohmann::json::array();  // [{path, type, rows, bytes}]
    int64_t step = -1;                  // optimizer steps trained
    nlohmann::json metrics = nlohmann::json::object();  // loss / eval_loss at that step
};

struct ExportSource {
    std::string base_model;   // the original model folder: tokenizer, generation config, original dtype
    std::string adapter_dir;  // PEFT adapter to merge or export; empty when weights_dir holds the weights
    std::string weights_dir;  // folder whose config.json + safetensors are the weights (base_model with an adapter)
    // A QLoRA run on a float checkpoint: the 4-bit quantization its base was trained in. Merging adds the
    // adapter to the dequantized 4-bit base (the weights it was trained against), not to the float one.
    std::optional<quant::BnbQuantizationConfig> quantize_base;
    ExportProvenance provenance;
};

// Checks that exactly one source was given, that its folders exist and hold what they should, and
// that a run and checkpoint exist; errors say what to pass instead.
ExportSource resolve_export_source(const ExportSourceRequest& request);

}  // namespace lathe
