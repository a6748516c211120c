// Which process is running a run, recorded in the run store when the run starts, so that a reader can
// tell a run that is still going from one whose process died without an end event (kill -9, a crash,
// power loss): those are shown as "interrupted", not "running" forever. A pid alone is not enough (pids
// are reused, and start again after a reboot), so the owner is the host, the kernel's boot id, the pid
// and the process's start time. Torch-free; Linux (/proc) with a kill(pid, 0) fallback elsewhere.
#pragma once

#include <cstdint>
#include <string>

namespace lathe {

struct RunOwner {
    std::string host;      // gethostname()
    std::string boot_id;   // /proc/sys/kernel/random/boot_id; empty where there is none
    int64_t pid = 0;       // 0: unknown (a run recorded before owners were)
    int64_t start = 0;     // the process's start time in clock ticks since boot (/proc/PID/stat), 0 if unknown
};

// The calling process.
RunOwner current_process();

enum class OwnerState {
    alive,    // the process still exists (or may: it is on another host, or unknown)
    gone,     // it exited, was killed, or the machine rebooted since
};

// Whether `owner` is still running. Only a process on this host can be judged; any other answer, and
// an owner never recorded, is `alive` (a run is never called interrupted on a guess).
OwnerState owner_state(const RunOwner& owner);

}  // namespace lathe
