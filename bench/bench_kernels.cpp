// The fused-op benchmark of kernels/op_bench.h with `lathe bench kernels`' options, linked against
// lathe_kernels alone (builds in a minute where lathe_core takes many). Figures: docs/performance.md.
#include <CLI/CLI.hpp>

#include <iostream>

#include "kernels/op_bench.h"

int main(int argc, char** argv) {
    lathe::kernels::OpBenchOptions options;
    std::string device = "cpu", dtype = "bfloat16";
    CLI::App app{"Fused ops against their LibTorch composites: time and memory, one JSON line each"};
    app.add_option("--tokens", options.tokens, "rows of every op (batch x sequence)")->capture_default_str();
    app.add_option("--hidden", options.hidden, "RMSNorm width")->capture_default_str();
    app.add_option("--intermediate", options.intermediate, "SwiGLU / GeGLU width")->capture_default_str();
    app.add_option("--heads", options.heads, "rotary: attention heads")->capture_default_str();
    app.add_option("--head-dim", options.head_dim, "rotary: features per head (even)")->capture_default_str();
    app.add_option("--iters", options.iters, "measured iterations")->capture_default_str();
    app.add_option("--warmup", options.warmup, "unmeasured iterations first")->capture_default_str();
    app.add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
    app.add_option("--dtype", dtype, "bfloat16, float16 or float32")->check(CLI::IsMember({"bfloat16", "float16", "float32"}))->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        options.device = c10::Device(device);
        options.dtype = dtype == "float32" ? at::kFloat : dtype == "float16" ? at::kHalf : at::kBFloat16;
        lathe::kernels::bench_fused_ops(options, std::cout);
    } catch (const std::exception& e) {
        std::cerr << "bench_kernels: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
