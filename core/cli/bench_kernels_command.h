// `lathe bench kernels`: each fused op of kernels/ against the LibTorch composite it replaces
// (kernels/op_bench.h), on shapes of a real model. Results go to docs/performance.md.
#pragma once

#include <ostream>
#include <string>

#include "kernels/op_bench.h"

namespace lathe {

struct BenchKernelsCommand {
    kernels::OpBenchOptions sizes;  // shapes and iterations; device and dtype come from the strings below
    std::string device = "cuda";
    std::string dtype = "bfloat16";
};
// One JSON line per op and implementation (fused, composite), as kernels::bench_fused_ops prints them.
void run_bench_kernels(const BenchKernelsCommand& cmd, std::ostream& out);

}  // namespace lathe
