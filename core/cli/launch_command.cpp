#include "core/cli/launch_command.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "core/util/error.h"

extern char** environ;

namespace lathe {

namespace {

std::atomic<int> g_forward_signal{0};
extern "C" void on_launch_signal(int sig) { g_forward_signal.store(sig); }

struct Rank {
    int rank = 0;
    pid_t pid = -1;
    bool running = false;
};

using Clock = std::chrono::steady_clock;

// This process's environment with `overrides` set.
std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string entry(*e);
        std::string name = entry.substr(0, entry.find('='));
        if (!overrides.count(name)) env.push_back(entry);
    }
    for (const auto& [name, value] : overrides) env.push_back(name + "=" + value);
    return env;
}

pid_t spawn(const std::string& exe, const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<char*> argv, envp;
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execve(exe.c_str(), argv.data(), envp.data());
        std::fprintf(stderr, "lathe launch: cannot run %s: %s\n", exe.c_str(), std::strerror(errno));
        _exit(127);
    }
    if (pid < 0) throw Error(std::string("lathe launch: fork failed: ") + std::strerror(errno));
    return pid;
}

std::string describe(int status) {
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exit_code_of(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

}  // namespace

int run_launch(const LaunchCommand& cmd) {
    if (cmd.nproc_per_node < 1) throw Error("--nproc-per-node must be at least 1");
    if (cmd.nnodes < 1) throw Error("--nnodes must be at least 1");
    if (cmd.node_rank < 0 || cmd.node_rank >= cmd.nnodes)
        throw Error("--node-rank " + std::to_string(cmd.node_rank) + " must be in 0.." + std::to_string(cmd.nnodes - 1));
    if (cmd.master_port < 1 || cmd.master_port > 65535) throw Error("--master-port must be a TCP port (1-65535)");
    if (cmd.command.empty()) throw Error("give the command every rank runs after --, e.g. lathe launch --nproc-per-node 2 -- train run.yaml");
    if (cmd.command[0] == "launch") throw Error("lathe launch cannot launch itself");
    const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();

    const int world = cmd.nnodes * cmd.nproc_per_node;
    std::map<std::string, std::string> common = {
        {"WORLD_SIZE", std::to_string(world)},
        {"LOCAL_WORLD_SIZE", std::to_string(cmd.nproc_per_node)},
        {"GROUP_RANK", std::to_string(cmd.node_rank)},
        {"MASTER_ADDR", cmd.master_addr},
        {"MASTER_PORT", std::to_string(cmd.master_port)},
    };
    // The ranks' keys in the store: every node must use the same id (torchrun's default is "none").
    const char* run_id = std::getenv("TORCHELASTIC_RUN_ID");
    common["TORCHELASTIC_RUN_ID"] = run_id && *run_id ? run_id : "lathe-launch";
    // As torchrun: ranks sharing the CPUs should not each start a thread per core.
    if (!std::getenv("OMP_NUM_THREADS"))
        common["OMP_NUM_THREADS"] = std::to_string(std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(cmd.nproc_per_node)));

    signal(SIGINT, on_launch_signal);
    signal(SIGTERM, on_launch_signal);
    std::vector<Rank> ranks;
    for (int i = 0; i < cmd.nproc_per_node; ++i) {
        auto vars = common;
        const int rank = cmd.node_rank * cmd.nproc_per_node + i;
        vars["RANK"] = std::to_string(rank);
        vars["LOCAL_RANK"] = std::to_string(i);
        ranks.push_back({rank, spawn(exe, cmd.command, environment_with(vars)), true});
    }

    int first_failure = 0;
    std::optional<Clock::time_point> failed_at;
    bool terminated = false, killed = false;
    auto signal_running = [&](int sig) {
        for (const auto& r : ranks)
            if (r.running) kill(r.pid, sig);
    };
    while (std::any_of(ranks.begin(), ranks.end(), [](const Rank& r) { return r.running; })) {
        if (int sig = g_forward_signal.exchange(0)) signal_running(sig);
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (auto& r : ranks) {
                if (r.pid != pid || !r.running) continue;
                r.running = false;
                const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                if (!ok && first_failure == 0) {
                    first_failure = exit_code_of(status);
                    failed_at = Clock::now();
                    std::cerr << "lathe launch: rank " << r.rank << " (pid " << pid << ") " << describe(status)
                              << "; the other ranks stop (their collectives fail), or are terminated in " << kLaunchGraceSeconds << " s\n";
                }
            }
            continue;
        }
        if (failed_at) {
            const auto waited = Clock::now() - *failed_at;
            if (!terminated && waited > std::chrono::seconds(kLaunchGraceSeconds)) {
                terminated = true;
                signal_running(SIGTERM);
            } else if (!killed && waited > std::chrono::seconds(kLaunchGraceSeconds + kLaunchKillSeconds)) {
                killed = true;
                std::cerr << "lathe launch: ranks still running " << kLaunchKillSeconds << " s after SIGTERM; killing them\n";
                signal_running(SIGKILL);
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return first_failure;
}

}  // namespace lathe
