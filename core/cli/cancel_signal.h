// Ctrl-C / SIGTERM for commands that write an output folder (`lathe merge`, `lathe soup`): the signal only
// sets a flag, and the command checks it between tensors and throws, so the staged folder is removed as
// the exception unwinds and nothing half-written is left (the Studio's Stop sends SIGTERM).
#pragma once

namespace lathe {

// Routes SIGINT and SIGTERM to the flag (cleared first).
void install_cancel_handlers();
// Throws lathe::Error("<what> cancelled; nothing was written") once a signal came.
void throw_if_cancelled(const char* what);

}  // namespace lathe
