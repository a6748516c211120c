#!/usr/bin/env bash
# Builds the command line and the GPU test binaries on a GPU machine that has a compiler, CMake, ninja and
# PyTorch (LibTorch inside its wheel) but not Lathe's other build dependencies: those come unpacked in
# .device/sysroot (bench/device_sysroot.sh, run beforehand where Debian's packages can be fetched). The
# results land in .device/bin with .device/BUILT_FOR naming the torch they were built against, which is
# what bench/device_check.sh runs.
# usage: bash bench/device_build.sh [BUILD_DIR]        (default build-device)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-device}"
sysroot="$root/.device/sysroot"
[ -d "$sysroot/usr/include" ] || { echo "device_build: $sysroot missing: run bench/device_sysroot.sh and carry .device"; exit 1; }
python="${PYTHON:-python3}"
read -r torch_version torch_cmake <<<"$($python -c 'import torch, torch.utils; print(torch.__version__, torch.utils.cmake_prefix_path)')"
libdir="$sysroot/usr/lib/x86_64-linux-gnu"

# pkg-config from the sysroot, reading only the sysroot's .pc files, with their /usr rewritten into it.
mkdir -p "$build"
cat >"$build/pkg-config" <<EOF
#!/bin/sh
export LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig:$sysroot/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$sysroot"
exec "$sysroot/usr/bin/pkgconf" "\$@"
EOF
chmod +x "$build/pkg-config"

# The GPU machine's compiler may be newer than Debian 12's GCC 12, and GCC 13's library no longer
# includes these headers through others; where a file relies on that, this keeps the build going.
forced_includes="-include cstdint -include cstdio -include cstring -include algorithm -include stdexcept -include limits"

# Only sm_90 (H100/H200): the machine this runs on. Release: the figures are benchmarks.
TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DLATHE_GUI=OFF -DLATHE_PARQUET=OFF \
  -DTorch_DIR="$torch_cmake/Torch" \
  -DCMAKE_PREFIX_PATH="$sysroot/usr" -DZLIB_ROOT="$sysroot/usr" \
  -DPKG_CONFIG_EXECUTABLE="$build/pkg-config" \
  -DCMAKE_BUILD_RPATH="$libdir" -DCMAKE_CXX_FLAGS="$forced_includes" >"$build.configure.log" 2>&1 || { tail -40 "$build.configure.log"; exit 1; }
# LATHE_DEVICE_CONFIGURE_ONLY=1: stop here (a rehearsal on a machine without a GPU).
[ "${LATHE_DEVICE_CONFIGURE_ONLY:-0}" = 1 ] && { echo "device_build: configured $build"; exit 0; }
# lathe_tests too: its GPU cases (flash attention paths, fused AdamW, bf16: auto) run from it.
targets=(lathe lathe_cuda_tests)
grep -q "^build tests/lathe_kernel_tests[ :]" "$build/build.ninja" && targets+=(lathe_kernel_tests)
ninja -C "$build" -j "$(nproc)" "${targets[@]}" >"$build.log" 2>&1 || { grep -B2 -A20 "FAILED" "$build.log" | head -80; exit 1; }
# Optional: a failure here costs only its GPU cases.
if ninja -C "$build" -j "$(nproc)" lathe_tests >>"$build.log" 2>&1; then targets+=(lathe_tests)
else echo "device_build: lathe_tests did not build:"; grep -A12 "FAILED" "$build.log" | head -40; fi

mkdir -p "$root/.device/bin" "$root/.device/lib"
cp "$build/app/lathe" "$root/.device/bin/"
for t in "${targets[@]:1}"; do cp "$build/tests/$t" "$root/.device/bin/"; done
cp -P "$libdir"/*.so* "$root/.device/lib/"
echo "$torch_version" >"$root/.device/BUILT_FOR"
echo "built on the GPU machine from $(cat "$root/.device/SOURCE" 2>/dev/null || git -C "$root" rev-parse HEAD 2>/dev/null)" >"$root/.device/COMMIT"
echo "device_build: ${targets[*]} built against torch $torch_version"
