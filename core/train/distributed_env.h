// Data parallel training's setting, as torchrun (and `lathe launch`, and Slurm scripts that export the
// same variables) gives it to each process, and which rows of a step each rank trains. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lathe {

struct DistributedEnv {
    int rank = 0;               // RANK: this process among all of them
    int world_size = 1;         // WORLD_SIZE
    int local_rank = 0;         // LOCAL_RANK: this process on its machine (picks the GPU)
    int local_world_size = 1;   // LOCAL_WORLD_SIZE
    std::string master_addr = "127.0.0.1";  // MASTER_ADDR: where rank 0 (or torchrun's agent) keeps the TCPStore
    int master_port = 29500;    // MASTER_PORT
    std::string run_id;         // TORCHELASTIC_RUN_ID (empty outside torchrun): keys of this job in the store
    int restart_count = 0;      // TORCHELASTIC_RESTART_COUNT: a restarted group must not read the last one's keys
    bool agent_store = false;   // TORCHELASTIC_USE_AGENT_STORE=True: torchrun's agent serves the store, not rank 0

    bool distributed() const { return world_size > 1; }
    std::string address() const { return master_addr + ":" + std::to_string(master_port); }
};

// Reads the variables through `getenv`. Without WORLD_SIZE (or with 1) the run is a single process.
// A variable that is set but wrong (not a number, RANK >= WORLD_SIZE, no MASTER_ADDR with WORLD_SIZE > 1)
// is an Error naming it.
using GetEnv = std::function<const char*(const char*)>;
DistributedEnv read_distributed_env(const GetEnv& getenv);
DistributedEnv read_distributed_env();  // the process's own environment

// One micro-batch: `count` consecutive units (rows, or packs of rows) of the epoch from `first`.
struct UnitRange {
    size_t first = 0;
    size_t count = 0;
};

// The micro-batches `rank` trains in step `step_in_epoch` of an epoch of `units` units. Every rank walks
// the same (seeded) order; a step takes micro_batch x accumulation x world_size consecutive units and
// rank r takes the r-th share of micro_batch x accumulation of them, so world_size ranks train exactly
// the rows one process would with accumulation x world_size. Near an epoch's end a rank may get fewer
// micro-batches, or none.
std::vector<UnitRange> micro_batches_of_rank(size_t units, int64_t step_in_epoch, int64_t micro_batch, int64_t accumulation, int rank,
                                             int world_size);

}  // namespace lathe
