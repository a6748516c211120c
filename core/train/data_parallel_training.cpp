#include "core/train/data_parallel_training.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "core/models/decoder_lm.h"
#include "core/train/master_weights.h"
#include "core/util/error.h"

namespace lathe {

std::unique_ptr<GradientSync> make_gradient_sync(DataParallel& group, const TrainConfig& c, const DecoderLM& lm, const std::vector<at::Tensor>& params,
                                                 const MasterWeights* masters) {
    GradientSyncOptions options{.bucket_bytes = std::max<int64_t>(1, static_cast<int64_t>(c.ddp_bucket_cap_mb * 1024 * 1024)),
                                .shard_gradients = c.zero_stage == 2 && c.optimizer != "sgd",  // SGD keeps no state to shard by
                                .reduce_scatter = true};
    return std::make_unique<GradientSync>(group, params, masters ? masters->model_tensors() : params, output_layer_tensors(lm), options);
}

ShardedAdamW::OwnerOf owner_lookup(const GradientSync& sync, const std::vector<at::Tensor>& params) {
    if (sync.owners().empty()) return nullptr;
    const std::vector<int>& owners = sync.owners();
    return [owners, params](const at::Tensor& t) {
        for (size_t i = 0; i < params.size(); ++i)
            if (params[i].is_same(t)) return owners[i];
        LATHE_ASSERT(false && "a tensor the optimizer updates is not among the reduced ones");
        return 0;
    };
}

namespace {

// This process's resident memory (/proc/self/statm's second field, in pages), GiB; -1 when unreadable.
double resident_gib() {
    std::ifstream statm("/proc/self/statm");
    long long size = 0, resident = -1;
    if (!(statm >> size >> resident)) return -1;
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1073741824.0;
}

}  // namespace

void gather_rank_memory(DataParallel& group, StepEvent& step, std::vector<MetricPoint>& metrics) {
    std::vector<double> by_rank = group.gather(step.gpu_mem_gib ? *step.gpu_mem_gib : resident_gib());
    for (size_t r = 0; r < by_rank.size(); ++r) metrics.push_back({step.step, "rank_mem_gib/" + std::to_string(r), by_rank[r]});
    step.rank_mem_gib = std::move(by_rank);
}

std::function<void()> arm_hook(GradientSync* sync) {
    if (!sync) return {};
    return [sync] { sync->arm(); };
}

}  // namespace lathe
