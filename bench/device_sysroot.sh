#!/usr/bin/env bash
# Unpacks the Debian packages Lathe's command-line build needs (headers, libraries, CMake and pkg-config
# files; pkg-config itself) into .device/sysroot (git-ignored), for a GPU machine that has a compiler,
# CMake, ninja and PyTorch but none of these and no network. There bench/device_build.sh builds `lathe`
# and the CUDA tests against that machine's own LibTorch. Run here: bash bench/device_sysroot.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sysroot="$root/.device/sysroot"
packages=(
  libyaml-cpp-dev libyaml-cpp0.7 nlohmann-json3-dev libcli11-dev libsqlite3-dev libsqlite3-0
  libsentencepiece-dev libsentencepiece0 libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libzstd-dev libzstd1 libxxhash-dev libxxhash0 libgtest-dev libgmock-dev zlib1g-dev zlib1g
  pkgconf pkgconf-bin libpkgconf3
)
debs="$(mktemp -d)"
trap 'rm -rf "$debs"' EXIT
(cd "$debs" && apt-get download "${packages[@]}" >/dev/null)
rm -rf "$sysroot"
mkdir -p "$sysroot"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$sysroot"; done
# Debian's -dev symlinks are relative (libfoo.so -> libfoo.so.N) except a few absolute ones: make those
# relative too, so they point inside the sysroot wherever it is unpacked.
find "$sysroot" -type l | while read -r link; do
  target="$(readlink "$link")"
  if [[ "$target" == /* ]]; then
    ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$sysroot$target")" "$link"
  fi
done
echo "device_sysroot: $(du -sh "$sysroot" | cut -f1) in $sysroot"
