// Loading a large checkpoint: wall time and peak RSS against the file size and the time to simply
// read the file. `bench_load --make DIR` first writes a random-initialised Llama-shaped model of about
// 1.5 GB (bfloat16) there; `bench_load DIR` measures.
//
// Cold numbers: the page cache for the weights is dropped with posix_fadvise(DONTNEED) before each
// measurement, so both the plain read and the load come from disk.
#include <ATen/core/grad_mode.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/io/tensor_io.h"
#include "core/models/loader.h"

namespace fs = std::filesystem;

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double peak_rss_mib() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    return r.ru_maxrss / 1024.0;
}

void drop_cache(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
}

std::vector<std::string> weight_files(const std::string& dir) {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".safetensors") out.push_back(e.path().string());
    return out;
}

void make_model(const std::string& dir) {
    fs::create_directories(dir);
    const int64_t hidden = 2048, inter = 5632, layers = 12, vocab = 32000, heads = 16, kv = 4, hd = 128;
    std::ofstream(dir + "/config.json") << R"({"model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632,
  "num_hidden_layers": 12, "num_attention_heads": 16, "num_key_value_heads": 4, "head_dim": 128,
  "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
  "tie_word_embeddings": false, "hidden_act": "silu", "torch_dtype": "bfloat16"})";
    std::vector<std::pair<std::string, at::Tensor>> t;
    auto w = [&](const std::string& name, std::vector<int64_t> shape) {
        t.emplace_back(name, (at::randn(shape) * 0.02).to(at::kBFloat16));
    };
    w("model.embed_tokens.weight", {vocab, hidden});
    w("lm_head.weight", {vocab, hidden});
    w("model.norm.weight", {hidden});
    for (int64_t i = 0; i < layers; ++i) {
        std::string p = "model.layers." + std::to_string(i) + ".";
        w(p + "input_layernorm.weight", {hidden});
        w(p + "post_attention_layernorm.weight", {hidden});
        w(p + "self_attn.q_proj.weight", {heads * hd, hidden});
        w(p + "self_attn.k_proj.weight", {kv * hd, hidden});
        w(p + "self_attn.v_proj.weight", {kv * hd, hidden});
        w(p + "self_attn.o_proj.weight", {hidden, heads * hd});
        w(p + "mlp.gate_proj.weight", {inter, hidden});
        w(p + "mlp.up_proj.weight", {inter, hidden});
        w(p + "mlp.down_proj.weight", {hidden, inter});
    }
    lathe::save_safetensors(dir + "/model.safetensors", t);
    std::printf("wrote %s (%.2f GB)\n", dir.c_str(), fs::file_size(dir + "/model.safetensors") / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "--make") {
        make_model(argv[2]);
        return 0;
    }
    if (argc != 2) {
        std::fprintf(stderr, "usage: bench_load [--make] DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    uint64_t bytes = 0;
    for (const auto& f : weight_files(dir)) bytes += fs::file_size(f);
    const double gb = bytes / 1e9;

    // 1. Plain sequential read of the files through a small buffer: the disk's speed.
    for (const auto& f : weight_files(dir)) drop_cache(f);
    double t0 = now_s();
    std::vector<char> buf(8 << 20);
    for (const auto& f : weight_files(dir)) {
        int fd = ::open(f.c_str(), O_RDONLY);
        while (::read(fd, buf.data(), buf.size()) > 0) {
        }
        ::close(fd);
    }
    double read_s = now_s() - t0;
    double rss_before = peak_rss_mib();

    // 2. load_model (mmap, zero-copy) and one forward pass, which touches every weight.
    for (const auto& f : weight_files(dir)) drop_cache(f);
    at::NoGradGuard no_grad;
    t0 = now_s();
    auto model = lathe::load_model(dir);
    double load_s = now_s() - t0;
    at::Tensor ids = at::tensor(std::vector<int64_t>{1, 2, 3, 4}, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
    at::Tensor logits = model->lm->forward(ids);
    double first_forward_s = now_s() - t0;
    double rss_after = peak_rss_mib();

    std::printf("checkpoint          %.2f GB in %zu file(s)\n", gb, weight_files(dir).size());
    std::printf("plain read (cold)   %.2f s  (%.0f MB/s)\n", read_s, bytes / 1e6 / read_s);
    std::printf("load_model (cold)   %.3f s  (mmap; weights not yet touched)\n", load_s);
    std::printf("load + 1st forward  %.2f s  (%.0f MB/s, every weight read once)\n", first_forward_s, bytes / 1e6 / first_forward_s);
    std::printf("peak RSS            %.0f MiB  (%.2fx the checkpoint; %.0f MiB before loading)\n", rss_after,
                rss_after * 1048576.0 / bytes, rss_before);
    return 0;
}
