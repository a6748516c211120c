// GGUF import/export speed: `bench_gguf MODEL.gguf WORK_DIR` imports the GGUF (float32), then exports the
// imported folder to each GGUF type, printing wall time and throughput. Figures: docs/performance.md.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/export/gguf_export.h"
#include "core/export/gguf_import.h"
#include "core/util/error.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: bench_gguf MODEL.gguf WORK_DIR\n");
        return 2;
    }
    namespace fs = std::filesystem;
    const fs::path work(argv[2]);
    const fs::path hf = work / "imported";
    using clock = std::chrono::steady_clock;
    auto seconds = [](clock::time_point a) { return std::chrono::duration<double>(clock::now() - a).count(); };
    try {
        fs::create_directories(work);
        auto t = clock::now();
        lathe::import_gguf(argv[1], hf.string(), {.force = true});
        std::printf("import %s -> float32: %.2f s (%.0f MB in)\n", argv[1], seconds(t), fs::file_size(argv[1]) / 1e6);
        const double params_mb = fs::file_size(hf / "model.safetensors") / 1e6;
        for (const char* type : {"f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"}) {
            const fs::path out = work / (std::string(type) + ".gguf");
            t = clock::now();
            lathe::export_gguf(hf.string(), out.string(), {.type = type});
            double s = seconds(t);
            std::printf("export %-7s %.2f s (%.0f MB float32 in, %.0f MB out, %.0f MB/s)\n", type, s, params_mb,
                        fs::file_size(out) / 1e6, params_mb / s);
        }
    } catch (const lathe::Error& e) {
        std::fprintf(stderr, "bench_gguf: %s\n", e.what());
        return 1;
    }
    return 0;
}
