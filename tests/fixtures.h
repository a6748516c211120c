// Paths to tests/fixtures (reference outputs made by Hugging Face libraries) and helpers to compare
// against them.
#pragma once

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lathe::test {

// LATHE_FIXTURES in the environment wins over the build's path: the GPU check runs test binaries built
// here on another machine, where the fixtures travel inside the repository.
inline std::string fixtures() {
    const char* moved = std::getenv("LATHE_FIXTURES");
    return moved && *moved ? moved : LATHE_FIXTURES;
}
inline std::string hf_model(const std::string& name) { return fixtures() + "/hf/models/" + name; }
inline std::string hf_adapter(const std::string& name) { return fixtures() + "/hf/adapters/" + name; }

inline const std::vector<std::string>& causal_models() {
    static const std::vector<std::string> names = {"llama", "llama3-rope-scaled", "qwen2", "qwen3", "mistral", "gemma", "phi3", "gpt2"};
    return names;
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// A fresh empty folder under the system temp dir, removed by the destructor.
struct TempDir {
    std::filesystem::path path;
    TempDir();
    ~TempDir();
    std::string str() const { return path.string(); }
};

// Writes `text` to `path` and returns the path as a string (for building configs and data files inline).
inline std::string write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path) << text;
    return path.string();
}

inline std::string tokenizer_fixture(const std::string& name) { return fixtures() + "/hf/tokenizers/" + name; }

// A model folder with the qwen-hf fixture tokenizer (and chat template) and a random-weight Qwen2-shaped
// model whose vocabulary fits it: for testing text paths (prompts, chat, raw-text training), not numbers.
std::string model_with_tokenizer(const TempDir& dir);

}  // namespace lathe::test
