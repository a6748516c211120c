#include "core/util/crash_report.h"

#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <initializer_list>

namespace lathe {
namespace {

const char* g_program = "lathe";
const char* (*g_context)() = nullptr;

void say(const char* text) {
    if (text) (void)!write(STDERR_FILENO, text, std::strlen(text));
}

void on_fatal_signal(int sig) {
    say("\n*** ");
    say(g_program);
    say(" crashed: ");
    say(strsignal(sig));
    say("\n");
    if (g_context) {
        say("*** while: ");
        say(g_context());
        say("\n");
    }
    void* frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    // Die of the same signal, so a parent (the Studio, a test, a shell) sees what really happened.
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

}  // namespace

void install_crash_report(const char* program, const char* (*context)()) {
    g_program = program;
    g_context = context;
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc now: the first call allocates, which a crash handler must not
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE}) std::signal(sig, on_fatal_signal);
}

}  // namespace lathe
