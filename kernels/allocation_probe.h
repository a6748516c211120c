// Counts the bytes tensors allocate on one device type while it is alive, through the hook torch's
// memory profiler uses (c10::MemoryReportingInfoBase, installed thread-locally and carried into the
// autograd engine's and ATen's worker threads). Both the default CPU allocator and the CUDA caching
// allocator report every allocation and free to it. The tests use it to count what autograd keeps for
// backward; `lathe bench kernels` for the peak memory of each op.
// Frees of blocks allocated before the probe existed are not counted (the CPU allocator logs a warning
// about them once a second at most).
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/util/ThreadLocalDebugInfo.h>

#include <cstdint>
#include <memory>

namespace lathe::kernels {

class AllocationProbe {
public:
    explicit AllocationProbe(c10::DeviceType device_type);
    AllocationProbe(const AllocationProbe&) = delete;
    AllocationProbe& operator=(const AllocationProbe&) = delete;

    // Bytes allocated since the probe started and not freed yet.
    int64_t live_bytes() const;
    // The highest live_bytes() since the probe started or since reset_peak().
    int64_t peak_bytes() const;
    void reset_peak();

    struct State;

private:
    std::shared_ptr<State> state_;
    c10::DebugInfoGuard guard_;
};

}  // namespace lathe::kernels
