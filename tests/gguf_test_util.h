// Helpers shared by the GGUF tests (lathe_gguf_tests, torch-free).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/gguf.h"
#include "core/io/gguf_writer.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace lathe::test {

namespace fs = std::filesystem;

inline std::string fixtures() { return LATHE_FIXTURES; }

// A fresh empty folder under the system temp dir, removed with the object.
class TempDir {
public:
    TempDir() {
        path_ = fs::temp_directory_path() / ("lathe-gguf-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        lathe::remove_tree(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        lathe::remove_tree(path_, ec);
    }
    fs::path operator/(const std::string& name) const { return path_ / name; }
    const fs::path& path() const { return path_; }

private:
    static int& counter() {
        static int n = 0;
        return n;
    }
    fs::path path_;
};

inline std::vector<uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Runs `fn` and returns the lathe::Error message it throws (a test failure if it throws nothing).
inline std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a lathe::Error";
    return "";
}

// Copies a GGUF file, letting `edit` change the metadata and tensors before it is written again.
// Tensor data is copied as it is.
inline void rewrite_gguf(const fs::path& src, const fs::path& dst,
                         const std::function<void(std::vector<std::pair<std::string, GgufValue>>&,
                                                  std::vector<GgufTensorInfo>&)>& edit) {
    auto g = GgufFile::open(src.string());
    auto kv = g->header().metadata;
    auto tensors = g->header().tensors;
    edit(kv, tensors);
    GgufWriter w;
    for (auto& [k, v] : kv) w.set(k, v);
    for (const auto& t : tensors) {
        const GgufTensorInfo* orig = g->find_tensor(t.name);
        w.add_tensor(t.name, t.type, t.ne, [g, orig, t](uint8_t* dst) {
            std::memcpy(dst, g->data(*orig), std::min(orig->nbytes, t.nbytes));
        });
    }
    w.write(dst.string());
}

// A fixture model folder (tests/fixtures/hf/models/NAME) with a byte-level BPE tokenizer that
// fits its 512-token vocabulary: the fixture tokenizer bytelevel-regex-qwen-hf cut to ids < 512
// (its merges are in id order, so the first 512 tokens and the merges among them are a whole BPE).
inline void make_model_with_tokenizer(const std::string& name, const fs::path& dir) {
    const fs::path model = fs::path(fixtures()) / "hf/models" / name;
    const fs::path tok = fs::path(fixtures()) / "hf/tokenizers/bytelevel-regex-qwen-hf";
    fs::create_directories(dir);
    for (const char* f : {"generation_config.json", "model.safetensors"}) fs::copy_file(model / f, dir / f);
    // The GPT-2 fixture keeps GPT-2's real BOS/EOS id 50256, outside its 512-token vocabulary: point
    // them at this tokenizer's <|endoftext|> (id 0), as a real GPT-2 vocabulary does.
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(std::ifstream(model / "config.json"));
    for (const char* k : {"bos_token_id", "eos_token_id"}) {
        if (config.contains(k) && config[k].is_number_integer() && config[k].get<int64_t>() >= config.value("vocab_size", 0)) config[k] = 0;
    }
    std::ofstream(dir / "config.json") << config.dump(2);
    for (const char* f : {"tokenizer_config.json", "chat_template.jinja"}) fs::copy_file(tok / f, dir / f);
    std::ifstream in(tok / "tokenizer.json");
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(in);
    const int64_t vocab = nlohmann::json::parse(std::ifstream(model / "config.json")).value("vocab_size", 0);
    nlohmann::ordered_json kept = nlohmann::ordered_json::object();
    for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it) {
        if (it.value().get<int64_t>() < vocab) kept[it.key()] = it.value();
    }
    nlohmann::ordered_json merges = nlohmann::ordered_json::array();
    for (const auto& m : j["model"]["merges"]) {
        std::string a = m[0], b = m[1];
        if (kept.contains(a) && kept.contains(b) && kept.contains(a + b)) merges.push_back(m);
    }
    j["model"]["vocab"] = kept;
    j["model"]["merges"] = merges;
    std::ofstream(dir / "tokenizer.json") << j.dump();
}

}  // namespace lathe::test
