#!/usr/bin/env bash
# Installs what is missing (packaging/setup.sh), then configures and builds Lathe into build/.
# Extra arguments go to the CMake configure step (e.g. -DLATHE_GUI=OFF).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash packaging/setup.sh
jobs="$(nproc 2>/dev/null || echo 2)"
generator=()
command -v ninja >/dev/null && [ ! -f build/CMakeCache.txt ] && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" "$@"
cmake --build build -j "$jobs"
