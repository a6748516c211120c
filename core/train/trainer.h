// `lathe train`: a run from its YAML config to its last checkpoint. Streams one JSON line per event on
// `events` (the format the GUI consumes; see docs/events.md) and records the run, its metrics,
// checkpoints and events in the run store.
#pragma once

#include <atomic>
#include <ostream>
#include <string>

#include "core/runs/run_store.h"
#include "core/train/train_config.h"

namespace lathe {

class DataParallel;

struct TrainRequest {
    TrainConfig config;
    std::string config_text;        // the YAML as written, stored with the run
    std::string resume;             // a run id or a checkpoint folder; empty for a new run
    const std::atomic<bool>* stop = nullptr;  // set by SIGINT/SIGTERM: checkpoint, mark stopped, return
    // Data parallel (docs/distributed.md): this rank's process group; null for one process. Every rank
    // trains its share of each step; only rank 0 writes checkpoints (the caller gives the other ranks a
    // run store and an event stream of their own, which nobody reads).
    DataParallel* data_parallel = nullptr;
};

enum class TrainOutcome { Completed, Stopped, Failed };

// Runs (or resumes) training. Expected failures (bad data, out of memory) are reported as an "error"
// event, the run is marked failed, and the outcome says so; nothing written is lost.
TrainOutcome run_training(const TrainRequest& request, RunStore& store, std::ostream& events);

// `lathe train --dry-run`: the resolved config and a memory estimate, without training.
void describe_training(const TrainConfig& config, std::ostream& out, int world_size = 1);

}  // namespace lathe
