#include "core/runs/run_owner.h"

#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace lathe {

namespace {

std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return "";
    return name;
}

std::string boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return id;
}

// /proc/PID/stat: "pid (comm) state ppid ... starttime ...". comm may hold spaces and parentheses, so
// the fields are counted from the last ')': state is field 3, starttime field 22.
struct ProcStat {
    bool found = false;
    char state = '?';
    int64_t start = 0;
};

ProcStat read_stat(int64_t pid) {
    ProcStat s;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return s;
    size_t close = line.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream fields(line.substr(close + 1));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
        if (i == 3) s.state = field.empty() ? '?' : field[0];
        if (i == 22) {
            s.start = std::stoll(field);
            s.found = true;
        }
    }
    return s;
}

}  // namespace

RunOwner current_process() {
    RunOwner o;
    o.host = host_name();
    o.boot_id = boot_id();
    o.pid = static_cast<int64_t>(getpid());
    o.start = read_stat(o.pid).start;
    return o;
}

OwnerState owner_state(const RunOwner& owner) {
    if (owner.pid <= 0) return OwnerState::alive;  // never recorded: cannot tell
    const RunOwner self = current_process();
    if (owner.host != self.host) return OwnerState::alive;  // another machine sharing the store
    if (!owner.boot_id.empty() && !self.boot_id.empty() && owner.boot_id != self.boot_id) return OwnerState::gone;  // rebooted
    if (kill(static_cast<pid_t>(owner.pid), 0) != 0 && errno == ESRCH) return OwnerState::gone;
    const ProcStat stat = read_stat(owner.pid);
    if (stat.found) {
        if (owner.start > 0 && stat.start != owner.start) return OwnerState::gone;  // the pid now belongs to another process
        if (stat.state == 'Z' || stat.state == 'X') return OwnerState::gone;        // killed, not yet reaped by its parent
    }
    return OwnerState::alive;
}

}  // namespace lathe
