#include "core/util/crash_report.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace lathe {
namespace {

const char* g_program = "lathe";
const char* (*g_context)() = nullptr;

void say(const char* text) {
    if (text) (void)!write(STDERR_FILENO, text, std::strlen(text));
}

// "NAME ADDRESS (library+offset, symbol)": which code an address belongs to, from the dynamic loader.
void say_address(const char* name, uintptr_t address) {
    char line[512];
    Dl_info info{};
    if (address && dladdr(reinterpret_cast<void*>(address), &info) && info.dli_fname) {
        std::snprintf(line, sizeof line, "*** %s 0x%zx (%s+0x%zx%s%s)\n", name, static_cast<size_t>(address), info.dli_fname,
                      static_cast<size_t>(address - reinterpret_cast<uintptr_t>(info.dli_fbase)), info.dli_sname ? ", " : "",
                      info.dli_sname ? info.dli_sname : "");
    } else {
        std::snprintf(line, sizeof line, "*** %s 0x%zx (in no loaded file)\n", name, static_cast<size_t>(address));
    }
    say(line);
}

void on_fatal_signal(int sig, siginfo_t* info, void* context) {
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
    if (sig == SIGSEGV || sig == SIGBUS) say_address("fault address", reinterpret_cast<uintptr_t>(info->si_addr));
#if defined(__x86_64__)
    // The faulting instruction, and the word on top of the stack: when the crash is a call through a bad
    // pointer (where the unwinder below stops), that word is the caller's return address.
    const auto* regs = static_cast<const ucontext_t*>(context)->uc_mcontext.gregs;
    say_address("instruction", static_cast<uintptr_t>(regs[REG_RIP]));
    uintptr_t top = 0;
    if (regs[REG_RSP]) std::memcpy(&top, reinterpret_cast<const void*>(regs[REG_RSP]), sizeof top);
    say_address("top of stack", top);
#else
    (void)context;
#endif
    void* frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    // Die of the same signal, so a parent (the Studio, a test, a shell) sees what really happened.
    signal(sig, SIG_DFL);
    raise(sig);
}

}  // namespace

void install_crash_report(const char* program, const char* (*context)()) {
    g_program = program;
    g_context = context;
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc now: the first call allocates, which a crash handler must not
    // Its own stack, so a stack overflow is reported too.
    static char alternate_stack[64 * 1024];
    stack_t stack{};
    stack.ss_sp = alternate_stack;
    stack.ss_size = sizeof alternate_stack;
    sigaltstack(&stack, nullptr);
    struct sigaction action {};
    action.sa_sigaction = on_fatal_signal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE}) sigaction(sig, &action, nullptr);
}

}  // namespace lathe
