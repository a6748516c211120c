// Two ranks of one Gloo group in one process, each in its own thread: for tests of the collectives and of
// what each rank holds, without launching processes.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <thread>

#include "core/train/data_parallel.h"
#include "tests/free_port.h"

namespace lathe::test {

// Runs `body` as rank 0 and rank 1 of one group; rethrows the first rank's failure after both ended.
inline void on_two_ranks(const std::function<void(DataParallel&)>& body, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const int port = free_port();
    std::exception_ptr failure[2];
    std::thread ranks[2];
    for (int r = 0; r < 2; ++r)
        ranks[r] = std::thread([&, r] {
            try {
                DistributedEnv env;
                env.rank = env.local_rank = r;
                env.world_size = env.local_world_size = 2;
                env.master_port = port;
                auto group = DataParallel::join(env, c10::Device(at::kCPU), timeout);
                body(*group);
            } catch (...) {
                failure[r] = std::current_exception();
            }
        });
    for (auto& t : ranks) t.join();
    for (auto& f : failure)
        if (f) std::rethrow_exception(f);
}

}  // namespace lathe::test
