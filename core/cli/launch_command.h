// `lathe launch`: starts the ranks of a data parallel run on this machine with the variables torchrun
// sets, without Python (docs/distributed.md). Its own header so the command's fields stay beside it.
#pragma once

#include <string>
#include <vector>

namespace lathe {

struct LaunchCommand {
    int nproc_per_node = 1;
    int nnodes = 1;
    int node_rank = 0;
    std::string master_addr = "127.0.0.1";
    int master_port = 29500;
    std::vector<std::string> command;  // the lathe subcommand each rank runs: train RUN.yaml
};

// Runs `lathe COMMAND...` nproc_per_node times, as ranks node_rank x nproc_per_node + i of
// nnodes x nproc_per_node (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR,
// MASTER_PORT, TORCHELASTIC_RUN_ID, and OMP_NUM_THREADS when unset). SIGINT and SIGTERM are passed on
// to every rank. When one rank fails, the others get kGraceSeconds to fail on their own (their
// collectives break at once when a peer dies), then SIGTERM, then after kKillSeconds SIGKILL. Returns
// 0 when every rank succeeded, else the first failure's exit status (128 + signal for a killed rank).
int run_launch(const LaunchCommand& cmd);

inline constexpr int kLaunchGraceSeconds = 10;
inline constexpr int kLaunchKillSeconds = 30;

}  // namespace lathe
