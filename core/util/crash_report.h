// A fatal signal (segfault, abort, bus error, illegal instruction) prints where it happened to stderr
// before the process dies the way it would have: a crash on a machine without a debugger (a GPU server,
// CI) then says which function it was in. Symbol names need the executable linked with -rdynamic;
// without it, library frames are named and the executable's own show as addresses (addr2line reads them).
#pragma once

namespace lathe {

// `program` is printed in the first line; `context` (may be null) is called to add a line of its own,
// e.g. the test that was running. Best effort: the process is already broken when it runs.
void install_crash_report(const char* program, const char* (*context)() = nullptr);

}  // namespace lathe
