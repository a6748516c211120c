// What a person wants to know about a model folder before loading it: architecture, size, dtype,
// context length. Reads config.json and the safetensors headers only (no weights, no LibTorch), so the
// UI can show it instantly for a model of any size.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lathe {

struct ModelSummary {
    std::string dir;
    std::string model_type;
    std::string architecture;      // display name, e.g. "Llama"
    std::string task;              // "causal language model" or "sequence classification"
    int64_t parameters = 0;        // elements over all weight tensors (tied weights once)
    std::string dtype;             // the weights' dtype ("float32"; "mixed: ..." when several)
    std::string quantization;      // "bitsandbytes 4-bit nf4, ..." for a 4-bit checkpoint; empty otherwise
    uint64_t size_bytes = 0;       // the safetensors files on disk
    int files = 0;
    int64_t layers = 0, hidden_size = 0, intermediate_size = 0, heads = 0, kv_heads = 0, head_dim = 0;
    int64_t vocab_size = 0;
    int64_t context_length = 0;
    std::string rope;              // "default, theta 10000" / "llama3 x8, theta 500000"; empty without RoPE
    bool tied_embeddings = false;
    bool has_tokenizer = false;    // tokenizer.json or tokenizer.model beside the weights
    bool has_chat_template = false;
};

// Throws lathe::Error naming the file on a bad config or header.
ModelSummary summarize_model(const std::string& dir);

// 1234567 -> "1.23M"; 1536 bytes -> "1.5 KiB".
std::string human_count(int64_t n);
std::string human_bytes(uint64_t n);

}  // namespace lathe
