#!/usr/bin/env bash
# Prepares what bench/device_check.sh runs on a GPU machine that has PyTorch but no compiler-side
# dependencies (no yaml-cpp, CLI11, nlohmann-json, SQLite or GoogleTest headers) and no network:
# builds `lathe` and the CUDA test binaries here, against the SAME LibTorch the GPU machine has (its exact
# wheel, e.g. torch==2.11.0 = 2.11.0+cu130, downloaded from PyPI and unpacked next to the repository),
# and copies them with the non-system shared libraries they need into .device/ (git-ignored), which the
# device tool carries. The GPU machine then spends its minutes on the checks, not on compiling.
#
# usage: bash bench/prepare_device.sh [TORCH_VERSION]     (default 2.11.0, the GPU machine's torch)
# env:   LATHE_DEVICE_TORCH_DIR  where the wheel is unpacked (default ../device-torch-VERSION)
#        LATHE_DEVICE_BUILD      the build folder (default build-device)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${1:-2.11.0}"
torch_dir="${LATHE_DEVICE_TORCH_DIR:-$root/../device-torch-$version}"
build="${LATHE_DEVICE_BUILD:-$root/build-device}"
dest="$root/.device"

if [ ! -f "$torch_dir/torch/share/cmake/Torch/TorchConfig.cmake" ]; then
  echo "prepare_device: fetching torch==$version (the wheel only: its C++ headers and libraries)"
  mkdir -p "$torch_dir"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$torch_dir" "torch==$version"
  unzip -q -o "$torch_dir"/torch-"$version"-*.whl 'torch/*' -d "$torch_dir"
fi
built_for="$(sed -n "s/^__version__ = '\(.*\)'/\1/p" "$torch_dir/torch/version.py")"

# Only sm_90 (H100/H200) for the check: half the CUDA compile time of 8.0;9.0.
# --allow-shlib-undefined: the wheel's libtorch_cuda needs NVIDIA libraries (cuDNN, NCCL, ...) that are
# not installed here; the GPU machine has them beside its torch.
TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DLATHE_GUI=OFF -DLATHE_PARQUET=OFF \
  -DTorch_DIR="$torch_dir/torch/share/cmake/Torch" -DLATHE_CCACHE_BASEDIR="$(cd "$root/.." && pwd)" \
  "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined" >"$build.configure.log"
targets=(lathe lathe_cuda_tests)
for t in lathe_kernel_tests; do  # test binaries that exist only in some versions of the tree
  grep -q "^build tests/$t[ :]" "$build/build.ninja" 2>/dev/null && targets+=("$t")
done
nice ninja -C "$build" -j "$(nproc)" "${targets[@]}"

rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib"
cp "$build/app/lathe" "$dest/bin/"
for t in "${targets[@]:1}"; do cp "$build/tests/$t" "$dest/bin/"; done
strip --strip-debug "$dest"/bin/*
# Shared libraries from this machine's packages that the GPU machine may lack: everything the binaries
# need except the C runtime and what LibTorch/CUDA bring themselves.
for bin in "$dest"/bin/*; do
  LD_LIBRARY_PATH="$torch_dir/torch/lib" ldd "$bin" | awk '/=> \// {print $1, $3}'
done | sort -u | while read -r name path; do
  case "$name" in
    libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libgcc_s.so*|libstdc++.so*) ;;
    libtorch*|libc10*|libcud*|libcupti*|libutil.so*|libcublas*|libnv*|libnccl*|libcusparse*|libcufft*|libcurand*|libcusolver*|libgomp*|libshm*) ;;
    *) cp -L "$path" "$dest/lib/$name" ;;
  esac
done
echo "$built_for" >"$dest/BUILT_FOR"
git -C "$root" rev-parse HEAD >"$dest/COMMIT"
git -C "$root" diff --quiet HEAD || echo "(with uncommitted changes)" >>"$dest/COMMIT"
du -sh "$dest"/bin/* "$dest/lib"
echo "prepare_device: .device/ ready for torch $built_for ($(du -sh "$dest" | cut -f1)); carry it: run(carry=[\".device\"])"
