#!/usr/bin/env bash
# The second command in the README (and what CI runs): install, build, and run every test.
# GPU tests skip without a GPU; the GUI tests run on Qt's offscreen platform. The package test (label
# `package`, docs/packaging.md) needs a Release build of its own and stays out: `ctest -L package` runs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash packaging/build.sh
jobs="$(nproc 2>/dev/null || echo 2)"
cd build
ctest --output-on-failure -j "$jobs" -LE package "$@"
