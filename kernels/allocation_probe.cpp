#include "kernels/allocation_probe.h"

#include <c10/core/Allocator.h>

#include <algorithm>
#include <mutex>

namespace lathe::kernels {

struct AllocationProbe::State {
    c10::DeviceType device_type;
    std::mutex mutex;
    int64_t live = 0;
    int64_t peak = 0;
};

namespace {

class Reporter : public c10::MemoryReportingInfoBase {
public:
    explicit Reporter(std::shared_ptr<AllocationProbe::State> state) : state_(std::move(state)) {}

    void reportMemoryUsage(void* /*ptr*/, int64_t alloc_size, size_t /*total_allocated*/, size_t /*total_reserved*/,
                           c10::Device device) override {
        if (device.type() != state_->device_type) return;
        std::lock_guard<std::mutex> lock(state_->mutex);
        state_->live += alloc_size;
        state_->peak = std::max(state_->peak, state_->live);
    }

    bool memoryProfilingEnabled() const override { return true; }

private:
    std::shared_ptr<AllocationProbe::State> state_;
};

std::shared_ptr<AllocationProbe::State> new_state(c10::DeviceType device_type) {
    auto state = std::make_shared<AllocationProbe::State>();
    state->device_type = device_type;
    return state;
}

}  // namespace

AllocationProbe::AllocationProbe(c10::DeviceType device_type)
    : state_(new_state(device_type)), guard_(c10::DebugInfoKind::PROFILER_STATE, std::make_shared<Reporter>(state_)) {}

int64_t AllocationProbe::live_bytes() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->live;
}

int64_t AllocationProbe::peak_bytes() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->peak;
}

void AllocationProbe::reset_peak() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->peak = state_->live;
}

}  // namespace lathe::kernels
