#include "core/cli/bench_kernels_command.h"

#include "core/models/loader.h"

namespace lathe {

void run_bench_kernels(const BenchKernelsCommand& cmd, std::ostream& out) {
    kernels::OpBenchOptions options = cmd.sizes;
    options.device = parse_device(cmd.device);
    options.dtype = parse_dtype(cmd.dtype);
    kernels::bench_fused_ops(options, out);
}

}  // namespace lathe
