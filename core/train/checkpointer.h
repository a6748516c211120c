// Checkpoints of a run and their retention: each one written (through the caller's `write`, which
// knows the model and the optimizer), recorded in the run store, and the oldest removed from disk
// and store once there are more than save_total_limit. Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/runs/run_store.h"

namespace lathe {

class Checkpointer {
public:
    // `writes`: this process writes checkpoints (rank 0 of a data parallel run); the others only keep
    // count, so that every rank takes part in the same gathers. The run's checkpoints already in the
    // store (a resumed run's) count towards save_total_limit (0: keep every one).
    Checkpointer(RunStore& store, int64_t run_id, int64_t save_total_limit, bool writes);

    // Whether step `step` is already on disk: a stop right after a save_steps checkpoint.
    bool has(int64_t step) const { return step == last_step_; }
    // Writes checkpoint `step` through `write` (which returns its folder), records it and removes the
    // oldest beyond the limit; returns the folder. A process that does not write only remembers the step.
    std::optional<std::string> save(int64_t step, const std::function<std::string()>& write);

    // The folders kept, oldest first.
    const std::vector<std::string>& kept() const { return kept_; }

private:
    RunStore& store_;
    int64_t run_id_;
    int64_t save_total_limit_;
    bool writes_;
    int64_t last_step_ = -1;
    std::vector<std::string> kept_;
};

}  // namespace lathe
