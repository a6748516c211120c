#include "core/runs/run_status.h"

namespace lathe {

const char* to_string(RunStatus status) {
    switch (status) {
        case RunStatus::created: return "created";
        case RunStatus::running: return "running";
        case RunStatus::completed: return "completed";
        case RunStatus::stopped: return "stopped";
        case RunStatus::failed: return "failed";
        case RunStatus::interrupted: return "interrupted";
    }
    return "unknown";
}

std::optional<RunStatus> parse_run_status(std::string_view name) {
    for (RunStatus s : {RunStatus::created, RunStatus::running, RunStatus::completed, RunStatus::stopped, RunStatus::failed, RunStatus::interrupted})
        if (name == to_string(s)) return s;
    return std::nullopt;
}

}  // namespace lathe
