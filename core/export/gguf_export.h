// A Hugging Face model folder written as one GGUF file that llama.cpp loads. Torch-free.
#pragma once

#include <functional>
#include <string>

namespace lathe {

struct GgufExportOptions {
    // f32, f16, bf16, q8_0 (as convert_hf_to_gguf.py writes them), q4_0, q4_k_m, q5_k_m, q6_k (the
    // tensor types and bytes llama-quantize makes from the f32 file, no importance matrix).
    std::string type = "f16";
    // Called as tensors are written: fraction done (0..1) and what is being written.
    std::function<void(double fraction, const std::string& what)> progress = nullptr;  // initialised, so {.type = "f16"} omits it without a warning
};

// MODEL_DIR holds config.json, *.safetensors and the tokenizer files. OUT is written to a temporary
// file beside it and renamed when complete, so a failure leaves nothing half-written.
// Unsupported architectures or tokenizers are a clear lathe::Error, before anything is written.
void export_gguf(const std::string& model_dir, const std::string& out_path, const GgufExportOptions& options);

}  // namespace lathe
