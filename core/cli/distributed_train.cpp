#include "core/cli/distributed_train.h"

#include <iostream>

#include "core/train/compute_plan.h"
#include "core/train/distributed_env.h"

namespace lathe {

namespace {

// Passes on the lines that are "error" events, prefixed, and drops the rest.
class ErrorLineFilter : public std::streambuf {
public:
    ErrorLineFilter(std::ostream& to, std::string prefix) : to_(to), prefix_(std::move(prefix)) {}

protected:
    int overflow(int ch) override {
        if (ch == traits_type::eof()) return 0;
        if (ch != '\n') {
            line_.push_back(static_cast<char>(ch));
            return ch;
        }
        if (line_.find("\"event\":\"error\"") != std::string::npos) {
            to_ << prefix_ << line_ << "\n";
            to_.flush();
        }
        line_.clear();
        return ch;
    }

private:
    std::ostream& to_;
    std::string prefix_;
    std::string line_;
};

}  // namespace

RankRole join_data_parallel(TrainConfig& config) {
    RankRole role;
    const DistributedEnv env = read_distributed_env();
    if (!env.distributed()) return role;
    const ComputePlan compute = plan_compute(config);
    c10::Device device(at::kCPU);
    if (compute.device.rfind("cuda", 0) == 0) {
        // One GPU per rank, LOCAL_RANK's: a device the YAML names is the same string on every rank.
        config.device = "cuda:" + std::to_string(env.local_rank);
        device = c10::Device(config.device);
    }
    role.group = DataParallel::join(env, device, std::chrono::seconds(config.ddp_timeout));
    if (env.rank > 0) {
        role.error_filter = std::make_unique<ErrorLineFilter>(std::cerr, "[rank " + std::to_string(env.rank) + "] ");
        role.private_events = std::make_unique<std::ostream>(role.error_filter.get());
    }
    return role;
}

}  // namespace lathe
