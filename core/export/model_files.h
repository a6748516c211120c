// The files of a Hugging Face model folder other than the weights, as an export writes them: config.json
// with the dtype the weights were written in, generation_config.json, the tokenizer and chat template,
// and the shard index. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/io/dtype.h"

namespace lathe {

// The floating-point type most of the model's weights are stored in (by element count): what
// transformers calls the model's dtype.
DType stored_dtype(const std::string& model_dir);

// config.json from `from_dir` with "dtype" (and "torch_dtype", the transformers 4.x name, when the
// file has it) set to `dtype`, and without a quantization_config (the weights written are float).
void write_model_config(const std::string& from_dir, const std::string& to_dir, DType dtype);

// Copies generation_config.json, or derives one from config.json's bos/eos/pad token ids as
// transformers does for a model saved without one.
void write_generation_config(const std::string& from_dir, const std::string& to_dir);

// Copies whichever tokenizer files `from_dir` has (tokenizer.json, tokenizer_config.json,
// chat_template.jinja, tokenizer.model, vocab/merges, ...). Returns how many.
int copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir);

// model.safetensors.index.json as transformers writes it for a sharded model.
void write_shard_index(const std::string& to_dir, const std::map<std::string, std::string>& weight_map, uint64_t total_bytes,
                       int64_t total_parameters);

// Copies FROM to DIR/NAME (contents only: the export's files are the user's, whatever the source's
// permissions were).
void copy_file_into(const std::string& from, const std::string& dir, const std::string& name);

// Writes `text` to DIR/NAME atomically.
void write_text_file(const std::string& dir, const std::string& name, const std::string& text);

}  // namespace lathe
