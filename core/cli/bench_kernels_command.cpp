#include "core/cli/bench_kernels_command.h"

#include "core/models/loader.h"
#include "kernels/op_bench.h"

namespace lathe {

void run_bench_kernels(const BenchKernelsCommand& cmd, std::ostream& out) {
    kernels::OpBenchOptions options;
    options.tokens = cmd.tokens;
    options.hidden = cmd.hidden;
    options.intermediate = cmd.intermediate;
    options.heads = cmd.heads;
    options.head_dim = cmd.head_dim;
    options.iters = cmd.iters;
    options.warmup = cmd.warmup;
    options.device = parse_device(cmd.device);
    options.dtype = parse_dtype(cmd.dtype);
    kernels::bench_fused_ops(options, out);
}

}  // namespace lathe
