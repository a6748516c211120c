// Tokenizer encoding throughput: `bench_tokenize TOKENIZER_JSON TEXT_FILE [REPEAT]` encodes every text
// of TEXT_FILE (without special tokens) one at a time on one thread, then all of them with
// encode_batch on every core, and prints MB/s for both plus the token count (to check against another
// tokenizer). Texts are the file's lines, or its \x1e-separated records when it has any.
// bench/tokenize_compare.py runs it side by side with Hugging Face `tokenizers`.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

namespace {
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_tokenize TOKENIZER_JSON TEXT_FILE [REPEAT]\n");
        return 2;
    }
    int repeat = argc > 3 ? std::atoi(argv[3]) : 3;
    try {
        lathe::Tokenizer tokenizer = lathe::Tokenizer::from_file(argv[1]);
        std::ifstream in(argv[2], std::ios::binary);
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const char separator = all.find('\x1e') != std::string::npos ? '\x1e' : '\n';
        std::vector<std::string> lines;
        size_t bytes = 0;
        std::istringstream split(all);
        for (std::string line; std::getline(split, line, separator);) {
            bytes += line.size();
            lines.push_back(std::move(line));
        }
        double best_single = 1e30, best_batch = 1e30;
        size_t tokens_single = 0, tokens_batch = 0;
        for (int r = 0; r < repeat; ++r) {
            double t0 = now_s();
            tokens_single = 0;
            for (const auto& line : lines) tokens_single += tokenizer.encode(line, false).ids.size();
            best_single = std::min(best_single, now_s() - t0);
            t0 = now_s();
            auto all = tokenizer.encode_batch(lines, false, 0);
            best_batch = std::min(best_batch, now_s() - t0);
            tokens_batch = 0;
            for (const auto& e : all) tokens_batch += e.ids.size();
        }
        std::printf("{\"bytes\": %zu, \"lines\": %zu, \"tokens\": %zu, \"tokens_batch\": %zu, \"single_s\": %.4f, \"batch_s\": %.4f, "
                    "\"single_mb_s\": %.2f, \"batch_mb_s\": %.2f, \"threads\": %u}\n",
                    bytes, lines.size(), tokens_single, tokens_batch, best_single, best_batch, bytes / 1e6 / best_single,
                    bytes / 1e6 / best_batch, std::thread::hardware_concurrency());
    } catch (const lathe::Error& e) {
        std::fprintf(stderr, "bench_tokenize: %s\n", e.what());
        return 1;
    }
    return 0;
}
