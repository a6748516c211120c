#!/usr/bin/env bash
# The second command in the README (and what CI runs): install, build, and run every test.
# GPU tests skip without a GPU; the GUI tests run on Qt's offscreen platform.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash packaging/build.sh
jobs="$(nproc 2>/dev/null || echo 2)"
cd build
ctest --output-on-failure -j "$jobs" "$@"
