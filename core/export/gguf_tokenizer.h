// The tokenizer as GGUF stores it (tokenizer.ggml.*: model, pre, tokens, token_type, merges, special ids,
// tokenizer.chat_template) and as Hugging Face stores it (tokenizer.json + tokenizer_config.json), both
// ways. Byte-level BPE (tokenizer.ggml.model "gpt2") with the pre-tokenizers llama.cpp names "gpt-2",
// "llama-bpe", "qwen2" and "smollm"; import also reads SentencePiece BPE ("llama"). Anything else is a
// clear error. Torch-free.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/io/gguf.h"
#include "core/io/gguf_writer.h"

namespace lathe {

// llama.cpp's token types (llama_token_type / gguf-py TokenType).
enum class GgufTokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct HfTokenizerFiles {
    nlohmann::json tokenizer;         // tokenizer.json
    nlohmann::json tokenizer_config;  // tokenizer_config.json
    nlohmann::json special_ids;       // {"bos_token_id": .., "eos_token_id": .., "pad_token_id": ..} for config.json
};

// Import: rebuilds the Hugging Face tokenizer files from the GGUF metadata. `context_length` becomes
// model_max_length. Errors name the file and the key.
HfTokenizerFiles hf_tokenizer_from_gguf(const GgufFile& gguf, int64_t context_length);

// Export: reads MODEL_DIR's tokenizer.json / tokenizer_config.json (and chat_template.jinja) and sets
// the tokenizer.ggml.* keys. The token list is padded to `vocab_size` with "[PAD<id>]" unused tokens
// as convert_hf_to_gguf.py does. Unsupported tokenizers are a lathe::Error naming the file and why.
void add_gguf_tokenizer(GgufWriter& out, const std::string& model_dir, int64_t vocab_size);

}  // namespace lathe
