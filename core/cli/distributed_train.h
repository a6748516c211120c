// The data parallel side of `lathe train`: joining the process group that torchrun's (or `lathe
// launch`'s) variables describe, and what the ranks other than 0 write to instead of the run store and
// stdout.
#pragma once

#include <memory>
#include <ostream>
#include <streambuf>
#include <string>

#include "core/train/data_parallel.h"
#include "core/train/train_config.h"

namespace lathe {

// A rank's part in a data parallel run. For rank 0 only `group` is set: it streams events as a single
// process does. The other ranks' events go to `private_events`, which writes only their error events to
// stderr, each line prefixed with "[rank N] ": a rank's failure is told where the user looks.
struct RankRole {
    std::unique_ptr<DataParallel> group;
    std::unique_ptr<std::streambuf> error_filter;
    std::unique_ptr<std::ostream> private_events;
};

// Null `group` when the environment names no data parallel run (WORLD_SIZE unset or 1). Otherwise joins
// the group, after pointing `config.device` at this rank's GPU (LOCAL_RANK) when it trains on CUDA.
RankRole join_data_parallel(TrainConfig& config);

}  // namespace lathe
