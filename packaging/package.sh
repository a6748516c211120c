#!/usr/bin/env bash
# Makes the Debian package of Lathe: dist/lathe_<version>_amd64.deb (docs/packaging.md).
#
#   bash packaging/package.sh
#
# builds lathe and lathe-studio in Release into build-lathe/ (a CPU-only link of LibTorch), installs them
# with CMake's install rules (packaging/install.cmake) into a staging tree, bundles the libraries that
# Debian does not have (LibTorch, Arrow, and what they load) into /usr/lib/lathe, writes the man pages from
# the binaries' --help, computes Depends with dpkg-shlibdeps, and packs the tree with dpkg-deb.
#
# Environment:
#   LATHE_PACKAGE_BUILD_DIR    an existing, configured build folder to package instead (lathe and
#                              lathe-studio are brought up to date there; it is not reconfigured)
#   LATHE_PACKAGE_VARIANT      cpu (default): package `lathe`, no CUDA library in it;
#                              cuda: package `lathe-cuda`, LibTorch's CUDA libraries and the NVIDIA
#                              libraries they load bundled (several GB, docs/packaging.md)
#   LATHE_PACKAGE_COMPRESSION  dpkg-deb's compressor: xz (default), gzip, zstd or none
#   LATHE_PACKAGE_JOBS         build jobs (default: nproc)
#   LATHE_PACKAGE_OUT          output folder (default: dist/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

variant="${LATHE_PACKAGE_VARIANT:-cpu}"
case "$variant" in
  cpu) package=lathe; torch_cuda=OFF ;;
  cuda) package=lathe-cuda; torch_cuda=ON ;;
  *) echo "package: LATHE_PACKAGE_VARIANT must be cpu or cuda, not '$variant'" >&2; exit 2 ;;
esac
compression="${LATHE_PACKAGE_COMPRESSION:-xz}"
jobs="${LATHE_PACKAGE_JOBS:-$(nproc 2>/dev/null || echo 2)}"
out="${LATHE_PACKAGE_OUT:-$root/dist}"

# The tools this script runs (Debian packages), installed when missing as packaging/setup.sh does.
tools=(dpkg-dev patchelf help2man binutils file)
missing=()
for p in "${tools[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "package: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- build ---------------------------------------------------------------------------------------------
if [ -n "${LATHE_PACKAGE_BUILD_DIR:-}" ]; then
  build="$(cd "$LATHE_PACKAGE_BUILD_DIR" && pwd)"
  [ -f "$build/CMakeCache.txt" ] || { echo "package: $build is no configured build folder (no CMakeCache.txt)" >&2; exit 2; }
else
  build="$root/build-$package"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    bash packaging/setup.sh
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    # Immediate binding with a read-only GOT (-z relro -z now), as Debian builds its own binaries.
    cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DLATHE_TESTS=OFF -DLATHE_GUI=ON \
      -DLATHE_TORCH_CUDA="$torch_cuda" -DCMAKE_EXE_LINKER_FLAGS="-Wl,-z,relro,-z,now"
  fi
fi
# The install rules (packaging/install.cmake) are part of the configuration: an older build folder
# reconfigures itself here through the build.
cmake --build "$build" --target lathe lathe-studio -j "$jobs"

version="$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")"
[ -n "$version" ] || { echo "package: no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt" >&2; exit 1; }
for bin in lathe lathe-studio; do
  [ -x "$build/app/$bin" ] || { echo "package: $build/app/$bin was not built (lathe-studio needs LATHE_GUI=ON)" >&2; exit 1; }
done
links_cuda=no
readelf -d "$build/app/lathe" | grep -q 'libtorch_cuda\.so' && links_cuda=yes
if [ "$variant" = cpu ] && [ "$links_cuda" = yes ]; then
  echo "package: $build links LibTorch's CUDA libraries; reconfigure it with -DLATHE_TORCH_CUDA=OFF for the CPU package, or set LATHE_PACKAGE_VARIANT=cuda" >&2
  exit 1
fi
if [ "$variant" = cuda ] && [ "$links_cuda" = no ]; then
  echo "package: $build is a CPU-only build (LATHE_TORCH_CUDA=OFF or a LibTorch without CUDA); the cuda variant needs one that links libtorch_cuda" >&2
  exit 1
fi

# --- stage ---------------------------------------------------------------------------------------------
# dpkg-shlibdeps takes libraries under debian/<package>/ for the package's own, so the tree is staged there.
work="$build/package-$variant"
rm -rf --one-file-system -- "$work"
stage="$work/debian/$package"
mkdir -p "$stage"
DESTDIR="$stage" cmake --install "$build" --prefix /usr --component lathe --strip > "$work/install.log"
privdir="$stage/usr/lib/lathe"
mkdir -p "$privdir"

# The libraries to bundle: every library the built binaries load (ldd, so the transitive ones too) that no
# installed Debian package owns. The rest become Depends below.
owned_by_debian() {
  local f="$1" real
  real="$(readlink -f "$f")"
  for candidate in "$f" "$real" "${f/#\/usr\/lib\//\/lib\/}" "${real/#\/usr\/lib\//\/lib\/}" "${real/#\/lib\//\/usr\/lib\/}"; do
    dpkg -S "$candidate" >/dev/null 2>&1 && return 0
  done
  return 1
}
declare -A bundled=()
for bin in lathe lathe-studio; do
  while read -r name path; do
    [ -n "$path" ] || continue
    owned_by_debian "$path" && continue
    bundled["$name"]="$path"
  done < <(ldd "$build/app/$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
  if ldd "$build/app/$bin" | grep -q 'not found'; then
    echo "package: $build/app/$bin has libraries ldd cannot find:" >&2
    ldd "$build/app/$bin" | grep 'not found' >&2
    exit 1
  fi
done
# The CUDA variant: cuDNN, cuBLAS and NVRTC open some of their libraries with dlopen (cuDNN's engines,
# cublasLt, nvrtc-builtins), which ldd does not see: every library of the NVIDIA wheels beside LibTorch goes
# in, except the plugins that need libraries neither the wheels nor this system have: NVSHMEM's MPI, PMIx,
# OpenSHMEM, UCX and libfabric bootstraps and transports and cuFile's RDMA (multi-node transports, opened
# only where a cluster provides those libraries; Lathe never loads them). Left out until nothing changes,
# since a plugin may need another that was left out.
if [ "$variant" = cuda ]; then
  torch_cuda_lib="${bundled[libtorch_cuda.so]:-}"
  [ -n "$torch_cuda_lib" ] || { echo "package: the cuda variant found no libtorch_cuda.so among the libraries lathe loads" >&2; exit 1; }
  declare -A wheel=()
  for f in "$(dirname "$torch_cuda_lib")"/../../nvidia/*/lib/*.so*; do
    [ -f "$f" ] && [ -z "${bundled[$(basename "$f")]:-}" ] && wheel["$(basename "$f")"]="$f"
  done
  system_libs="$(ldconfig -p | awk 'NR > 1 {print $1}' | sort -u)"
  left_out=yes
  while [ -n "$left_out" ]; do
    left_out=""
    for name in "${!wheel[@]}"; do
      missing=""
      for need in $(readelf -d "${wheel[$name]}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -n "${wheel[$need]:-}${bundled[$need]:-}" ] && continue
        grep -qxF "$need" <<< "$system_libs" && continue
        missing+=" $need"
      done
      if [ -n "$missing" ]; then
        echo "package: leaving out $name: it needs$missing, which neither the NVIDIA wheels nor this system have"
        unset "wheel[$name]"
        left_out=yes
      fi
    done
  done
  for name in "${!wheel[@]}"; do bundled["$name"]="${wheel[$name]}"; done
fi
for name in "${!bundled[@]}"; do
  src="${bundled[$name]}"
  echo "package: bundling $src"
  install -m 0644 "$src" "$privdir/$name"
  # Unneeded symbols out (libtorch_cpu: 448 MB -> 357 MB); the dynamic symbols stay.
  strip --strip-unneeded "$privdir/$name"
  # The wheels' RPATHs point at sibling wheel folders ($ORIGIN/../../nvidia/...); in /usr/lib/lathe
  # everything is beside each other.
  if readelf -d "$privdir/$name" | grep -Eq '\((RPATH|RUNPATH)\)'; then
    patchelf --set-rpath '$ORIGIN' "$privdir/$name"
  fi
done

# Man pages from the binaries' own --help and --version.
mkdir -p "$stage/usr/share/man/man1"
help2man --no-info --no-discard-stderr --section 1 --source "Lathe $version" \
  --name "finetune, evaluate, quantize and export language models" \
  --output "$stage/usr/share/man/man1/lathe.1" "$build/app/lathe"
# Qt warns on stderr without an XDG_RUNTIME_DIR; the Studio's help and version are on stdout.
mkdir -p -m 0700 "$work/runtime"
# Its --version says "Lathe Studio X", from which help2man would name the page "Lathe": give the version.
QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$work/runtime" help2man --no-info --section 1 --source "Lathe $version" \
  --version-string "$version" \
  --name "the Lathe desktop workbench for finetuning language models" \
  --output "$stage/usr/share/man/man1/lathe-studio.1" "$build/app/lathe-studio"
gzip -9n "$stage/usr/share/man/man1/"*.1

# Documentation Debian policy asks for: copyright and changelog.
docdir="$stage/usr/share/doc/$package"
mkdir -p "$docdir"
install -m 0644 packaging/deb/copyright "$docdir/copyright"
{
  echo "$package ($version) unstable; urgency=medium"
  echo
  echo "  * Lathe $version, packaged from the source tree by packaging/package.sh."
  echo
  echo " -- Lathe maintainers <maintainers@lathe.invalid>  $(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} > "$docdir/changelog"
gzip -9n "$docdir/changelog"

# .comment (compiler version strings) is of no use at run time; lintian notes it.
while IFS= read -r -d '' f; do
  file -b "$f" | grep -q '^ELF' && objcopy --remove-section=.comment "$f"
done < <(find "$stage/usr/bin" "$privdir" -type f -print0)

find "$stage" -type d -exec chmod 0755 {} +
find "$stage/usr/share" -type f -exec chmod 0644 {} +

# --- control -------------------------------------------------------------------------------------------
mkdir -p "$work/debian" "$stage/DEBIAN"
printf 'Source: %s\n\nPackage: %s\nArchitecture: amd64\n' "$package" "$package" > "$work/debian/control"
shlib_targets=("$stage/usr/bin/lathe" "$stage/usr/bin/lathe-studio")
for lib in "$privdir"/*; do shlib_targets+=("$lib"); done
depends="$(cd "$work" && dpkg-shlibdeps -O -l"$privdir" "${shlib_targets[@]}" 2>"$work/shlibdeps.log" \
           | sed -n 's/^shlibs:Depends=//p')" || { cat "$work/shlibdeps.log" >&2; exit 1; }
# The bundled wheels' libraries have no shlibs information and link librt/libdl/libpthread needlessly;
# dpkg-shlibdeps says so. Anything else it says is shown.
grep -v -e '^$' -e "can't extract name and version" -e 'could avoid a useless dependency' "$work/shlibdeps.log" >&2 || true

installed_kb="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
{
  echo "Package: $package"
  echo "Version: $version"
  echo "Architecture: amd64"
  echo "Maintainer: Lathe maintainers <maintainers@lathe.invalid>"
  echo "Installed-Size: $installed_kb"
  echo "Depends: $depends"
  # Qt finds its Wayland platform plugin there; without it lathe-studio runs through XWayland.
  echo "Recommends: qt6-wayland"
  if [ "$variant" = cuda ]; then
    echo "Conflicts: lathe"
    echo "Replaces: lathe"
    echo "Provides: lathe"
  fi
  echo "Section: science"
  echo "Priority: optional"
  echo "Description: workbench for finetuning language models"
  echo " Lathe finetunes Hugging Face language models with full finetuning, LoRA,"
  echo " rsLoRA or DoRA, on LibTorch, without Python. Lathe Studio (lathe-studio)"
  echo " is the desktop application: models, datasets, training with live charts,"
  echo " the run history, chat with checkpoints and export. The lathe command does"
  echo " everything headless."
  if [ "$variant" = cpu ]; then
    echo " ."
    echo " This package runs on the CPU: it bundles LibTorch's CPU library only."
  else
    echo " ."
    echo " This package bundles LibTorch's CUDA libraries and the NVIDIA libraries they"
    echo " load; it needs an NVIDIA driver for CUDA 13."
  fi
} > "$stage/DEBIAN/control"

(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)

# --- pack ----------------------------------------------------------------------------------------------
mkdir -p "$out"
deb="$out/${package}_${version}_amd64.deb"
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$deb" >/dev/null
echo "package: wrote $deb ($(du -h "$deb" | cut -f1), installed $((installed_kb / 1024)) MiB)"
echo "package: Depends: $depends"
