// Where the `lathe` command-line binary is: the GUI runs generation (and training) in it as a child
// process, so a crash or an out-of-memory there never takes the window down.
#pragma once

#include <QString>

// $LATHE_CLI when set (tests point it at the build's binary), else `lathe` beside this executable,
// else `lathe` on PATH. Empty when none is found.
QString latheCliPath();
