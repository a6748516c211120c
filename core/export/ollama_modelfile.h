// An Ollama Modelfile to go beside a GGUF export: FROM the file, the stop tokens, and a TEMPLATE in
// Ollama's (Go) template language when the model's chat template is one that can be restated exactly.
// Torch-free.
#pragma once

#include <string>

namespace lathe {

// MODEL_DIR is the Hugging Face folder the GGUF was made from (tokenizer_config.json,
// chat_template.jinja, tokenizer.json, generation_config.json). GGUF_NAME is the file name beside it.
// The template is restated only when it can be exactly; otherwise a comment says Ollama will use the
// template embedded in the GGUF.
std::string ollama_modelfile_for(const std::string& model_dir, const std::string& gguf_name);

}  // namespace lathe
