// `lathe import`: a GGUF file (what llama.cpp runs) back into a Hugging Face model folder Lathe can
// finetune: config.json rebuilt from the {arch}.* hyper-parameters, model.safetensors dequantized to
// float32 or bfloat16 (undoing convert_hf_to_gguf.py's renaming, q/k row order, Gemma's 1 + w norms and
// GPT-2's transposes), tokenizer.json + tokenizer_config.json rebuilt from tokenizer.ggml.*, and
// generation_config.json. Torch-free.
#pragma once

#include <functional>
#include <string>

namespace lathe {

struct GgufImportOptions {
    std::string dtype = "float32";  // float32 or bfloat16
    bool force = false;             // replace an existing output folder
    std::function<void(double fraction, const std::string& what)> progress = nullptr;  // initialised, so {.force = true} omits it without a warning
};

// Writes OUT_DIR through a temporary folder beside it that is renamed when complete, so a failure
// leaves nothing behind. Errors (unsupported architecture, tensor type or tokenizer; metadata that
// disagrees with the tensors; an existing OUT_DIR without force) name the file and the key or tensor.
void import_gguf(const std::string& gguf_path, const std::string& out_dir, const GgufImportOptions& options);

}  // namespace lathe
