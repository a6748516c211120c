#include "core/train/distributed_env.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "core/util/error.h"

namespace lathe {

namespace {

int integer_variable(const GetEnv& getenv, const char* name, int fallback, int min) {
    const char* text = getenv(name);
    if (!text || !*text) return fallback;
    int value = 0;
    const char* end = text + std::char_traits<char>::length(text);
    auto [ptr, ec] = std::from_chars(text, end, value);
    if (ec != std::errc() || ptr != end || value < min)
        throw Error(std::string("environment variable ") + name + "='" + text + "': expected an integer >= " + std::to_string(min) +
                    " (torchrun, `lathe launch` or your Slurm script sets it)");
    return value;
}

}  // namespace

DistributedEnv read_distributed_env(const GetEnv& getenv) {
    DistributedEnv env;
    env.world_size = integer_variable(getenv, "WORLD_SIZE", 1, 1);
    if (!env.distributed()) return env;
    env.rank = integer_variable(getenv, "RANK", -1, 0);
    if (env.rank < 0) throw Error("WORLD_SIZE=" + std::to_string(env.world_size) + " but RANK is not set: start the ranks with torchrun or `lathe launch`");
    if (env.rank >= env.world_size)
        throw Error("RANK=" + std::to_string(env.rank) + " is not below WORLD_SIZE=" + std::to_string(env.world_size));
    env.local_rank = integer_variable(getenv, "LOCAL_RANK", env.rank, 0);
    env.local_world_size = integer_variable(getenv, "LOCAL_WORLD_SIZE", env.world_size, 1);
    if (env.local_rank >= env.local_world_size)
        throw Error("LOCAL_RANK=" + std::to_string(env.local_rank) + " is not below LOCAL_WORLD_SIZE=" + std::to_string(env.local_world_size));
    const char* addr = getenv("MASTER_ADDR");
    if (!addr || !*addr) throw Error("WORLD_SIZE=" + std::to_string(env.world_size) + " but MASTER_ADDR is not set: the address of rank 0's machine");
    env.master_addr = addr;
    env.master_port = integer_variable(getenv, "MASTER_PORT", -1, 1);
    if (env.master_port < 0 || env.master_port > 65535)
        throw Error("MASTER_PORT must be set to a TCP port (1-65535) that rank 0's machine can listen on");
    if (const char* id = getenv("TORCHELASTIC_RUN_ID")) env.run_id = id;
    env.restart_count = integer_variable(getenv, "TORCHELASTIC_RESTART_COUNT", 0, 0);
    const char* agent = getenv("TORCHELASTIC_USE_AGENT_STORE");
    env.agent_store = agent && (std::string(agent) == "True" || std::string(agent) == "true" || std::string(agent) == "1");
    return env;
}

DistributedEnv read_distributed_env() {
    return read_distributed_env([](const char* name) -> const char* { return std::getenv(name); });
}

std::vector<UnitRange> micro_batches_of_rank(size_t units, int64_t step_in_epoch, int64_t micro_batch, int64_t accumulation, int rank,
                                             int world_size) {
    std::vector<UnitRange> out;
    const size_t per_rank = static_cast<size_t>(micro_batch * accumulation);
    const size_t step_first = static_cast<size_t>(step_in_epoch) * per_rank * static_cast<size_t>(world_size);
    const size_t rank_first = step_first + static_cast<size_t>(rank) * per_rank;
    for (int64_t m = 0; m < accumulation; ++m) {
        const size_t first = rank_first + static_cast<size_t>(m * micro_batch);
        if (first >= units) break;
        out.push_back({first, std::min(units - first, static_cast<size_t>(micro_batch))});
    }
    return out;
}

}  // namespace lathe
