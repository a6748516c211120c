// `lathe bench kernels`: each fused op of kernels/ against the LibTorch composite it replaces
// (kernels/op_bench.h), on shapes of a real model. Results go to docs/performance.md.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace lathe {

struct BenchKernelsCommand {
    int64_t tokens = 4096;         // rows of every op (batch x sequence)
    int64_t hidden = 2048;         // RMSNorm width
    int64_t intermediate = 8192;   // SwiGLU / GeGLU width
    int64_t heads = 32;            // rotary: q heads
    int64_t head_dim = 64;
    int64_t iters = 20;
    int64_t warmup = 3;
    std::string device = "cuda";
    std::string dtype = "bfloat16";
};
// One JSON line per op and implementation (fused, composite), as kernels::bench_fused_ops prints them.
void run_bench_kernels(const BenchKernelsCommand& cmd, std::ostream& out);

}  // namespace lathe
