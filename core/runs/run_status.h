// A run's status, as the run store records it and the `end` event reports it. The names are the
// strings in the store's `status` column, `lathe runs list` and the events (docs/events.md): a contract.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lathe {

enum class RunStatus {
    created,      // recorded, not started yet
    running,      // its process lives (or an older reader has not seen it die yet)
    completed,    // trained to its last step
    stopped,      // SIGINT/SIGTERM: checkpointed and ended; resumable
    failed,       // an error ended it (the run's error says why); resumable from its last checkpoint
    interrupted,  // its process died without ending it (kill -9, crash, power loss); resumable
};

const char* to_string(RunStatus status);
// nullopt for a name this version does not know.
std::optional<RunStatus> parse_run_status(std::string_view name);

// Ended without completing, so `lathe train --resume` continues it from its last checkpoint.
inline bool is_resumable(RunStatus s) { return s == RunStatus::stopped || s == RunStatus::failed || s == RunStatus::interrupted; }
// No process works on it any more.
inline bool is_finished(RunStatus s) { return s == RunStatus::completed || is_resumable(s); }

}  // namespace lathe
