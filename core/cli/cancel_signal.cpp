#include "core/cli/cancel_signal.h"

#include <atomic>
#include <csignal>
#include <string>

#include "core/util/error.h"

namespace lathe {

namespace {
std::atomic<bool> g_cancelled{false};
extern "C" void on_cancel(int) { g_cancelled.store(true); }
}  // namespace

void install_cancel_handlers() {
    g_cancelled.store(false);
    std::signal(SIGINT, on_cancel);
    std::signal(SIGTERM, on_cancel);
}

void throw_if_cancelled(const char* what) {
    if (g_cancelled.load()) throw Error(std::string(what) + " cancelled; nothing was written");
}

}  // namespace lathe
