#!/usr/bin/env bash
# Tests the Debian package (docs/packaging.md; ctest -L package runs it):
#  1. makes it with packaging/package.sh (LATHE_PACKAGE_BUILD_DIR: an existing build folder to reuse), or
#     takes the .deb named by LATHE_PACKAGE_DEB;
#  2. checks its contents (binaries, bundled libraries, desktop entry, icons, metainfo, man pages, demo),
#     its control fields, and that no ELF file in it has a RUNPATH outside $ORIGIN;
#  3. runs desktop-file-validate, appstreamcli and lintian where installed (lintian's errors fail the test
#     unless listed in packaging/deb/lintian-expected with the reason in docs/packaging.md);
#  4. installs it with `dpkg --root` into an empty root and runs lathe --version, lathe info on the demo
#     model, a two-step `lathe train` of the demo, and lathe-studio --version (offscreen), as a user
#     whose HOME is empty: nothing may be written into the installed tree, the run store and the dataset
#     cache land in the XDG folders, and removing the package leaves them there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fail() { echo "test_package: FAIL: $*" >&2; exit 1; }
pass() { echo "test_package: ok: $*"; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/lathe-package-test.XXXXXX")"
cleanup() { rm -rf --one-file-system -- "$tmp"; }
trap cleanup EXIT

# --- 1. the package --------------------------------------------------------------------------------------
if [ -n "${LATHE_PACKAGE_DEB:-}" ]; then
  deb="$LATHE_PACKAGE_DEB"
else
  LATHE_PACKAGE_OUT="$tmp/dist" bash packaging/package.sh
  deb="$(ls "$tmp"/dist/lathe_*_amd64.deb)"
fi
[ -f "$deb" ] || fail "no package at $deb"
version="$(sed -n 's/^project(Lathe VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
[ "$(basename "$deb")" = "lathe_${version}_amd64.deb" ] || fail "$(basename "$deb") is not lathe_${version}_amd64.deb"
pass "$(basename "$deb"), $(du -h "$deb" | cut -f1)"

# --- 2. contents and control -----------------------------------------------------------------------------
dpkg-deb --contents "$deb" | awk '{print $NF}' | sed 's|^\./|/|' > "$tmp/contents"
for f in /usr/bin/lathe /usr/bin/lathe-studio \
         /usr/lib/lathe/libtorch_cpu.so /usr/lib/lathe/libc10.so \
         /usr/share/applications/io.github.lathe.Studio.desktop \
         /usr/share/metainfo/io.github.lathe.Studio.metainfo.xml \
         /usr/share/icons/hicolor/scalable/apps/lathe-studio.svg \
         /usr/share/icons/hicolor/48x48/apps/lathe-studio.png \
         /usr/share/icons/hicolor/256x256/apps/lathe-studio.png \
         /usr/share/man/man1/lathe.1.gz /usr/share/man/man1/lathe-studio.1.gz \
         /usr/share/doc/lathe/copyright /usr/share/doc/lathe/changelog.gz \
         /usr/share/lathe/resources/demo-model/config.json /usr/share/lathe/resources/demo-model/model.safetensors \
         /usr/share/lathe/resources/demo-data/run.yaml /usr/share/lathe/resources/demo-data/train.jsonl; do
  grep -qx "$f" "$tmp/contents" || fail "$f is not in the package"
done
grep -E 'libparquet\.so|libarrow\.so' "$tmp/contents" >/dev/null || fail "Arrow/Parquet are not bundled"
if grep -E 'libtorch_cuda|libcudnn|libcublas|libnccl' "$tmp/contents"; then
  fail "the CPU package carries CUDA libraries"
fi
for page in lathe lathe-studio; do
  dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/share/man/man1/$page.1.gz" | gzip -dc > "$tmp/$page.1"
  grep -A1 '^\.SH NAME' "$tmp/$page.1" | sed -n 2p | grep -q "^$page " || fail "the man page of $page has no NAME line for it: $(grep -A1 '^\.SH NAME' "$tmp/$page.1")"
  grep -q '\\-\\-version' "$tmp/$page.1" || fail "the man page of $page does not list --version"
done
pass "contents ($(wc -l < "$tmp/contents") entries), man pages"

[ "$(dpkg-deb --field "$deb" Package)" = lathe ] || fail "Package is not lathe"
[ "$(dpkg-deb --field "$deb" Version)" = "$version" ] || fail "Version is not $version"
depends="$(dpkg-deb --field "$deb" Depends)"
for p in libqt6widgets6 libqt6core6 libqcustomplot2.1-qt6 libsqlite3-0 libyaml-cpp0.7 libc6 libstdc++6; do
  [[ ", $depends," == *", $p "* || ", $depends," == *", $p,"* ]] || fail "Depends lacks $p: $depends"
done
pass "control: Depends: $depends"

mkdir -p "$tmp/x"
dpkg-deb -x "$deb" "$tmp/x"
elves=0
while IFS= read -r -d '' f; do
  file -b "$f" | grep -q '^ELF' || continue
  elves=$((elves + 1))
  paths="$(readelf -d "$f" | sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\]/\2/p')"
  IFS=: read -ra entries <<< "$paths"
  for e in "${entries[@]}"; do
    [[ "$e" == '$ORIGIN'* ]] || fail "${f#"$tmp/x"} has a RUNPATH entry outside \$ORIGIN: $e"
  done
done < <(find "$tmp/x" -type f -print0)
((elves >= 4)) || fail "only $elves ELF files in the package"
for bin in lathe lathe-studio; do
  runpath="$(readelf -d "$tmp/x/usr/bin/$bin" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')"
  [ "$runpath" = '$ORIGIN/../lib/lathe' ] || fail "$bin's RUNPATH is '$runpath', not \$ORIGIN/../lib/lathe"
done
pass "RUNPATHs of $elves ELF files are \$ORIGIN-relative"

# --- 3. validators -----------------------------------------------------------------------------------------
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$tmp/x/usr/share/applications/io.github.lathe.Studio.desktop" || fail "desktop-file-validate"
  pass "desktop-file-validate"
fi
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net "$tmp/x/usr/share/metainfo/io.github.lathe.Studio.metainfo.xml" || fail "appstreamcli validate"
  pass "appstreamcli validate"
fi
if command -v lintian >/dev/null; then
  lintian --tag-display-limit 0 "$deb" > "$tmp/lintian" 2>&1 || true
  cat "$tmp/lintian"
  { grep -v '^[[:space:]]*\(#\|$\)' packaging/deb/lintian-expected || true; } | awk '{print $1}' > "$tmp/expected"
  unexpected="$(grep -E '^(E|W): ' "$tmp/lintian" | awk '{print $3}' | sort -u | grep -vxF -f "$tmp/expected" || true)"
  [ -z "$unexpected" ] || fail "lintian tags not explained in packaging/deb/lintian-expected: $unexpected"
  pass "lintian: $(grep -c '^E: ' "$tmp/lintian" || true) errors, $(grep -c '^W: ' "$tmp/lintian" || true) warnings, all explained"
else
  echo "test_package: lintian is not installed (apt-get install lintian); skipped it"
fi

# --- 4. install into an empty root and run -------------------------------------------------------------------
r="$tmp/root"
mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers"
touch "$r/var/lib/dpkg/status" "$r/var/lib/dpkg/available"
# The root has no Debian packages of its own: the dependencies are the host's (its /lib), checked below.
dpkg --root="$r" --force-depends --force-not-root --log=/dev/null -i "$deb" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg --root -i"; }
dpkg --root="$r" -s lathe | grep -q '^Status: install ok installed' || fail "dpkg --root does not list lathe as installed"
pass "installed with dpkg --root into $r"

home="$tmp/home"
mkdir -p "$home" "$tmp/runtime"
chmod 0700 "$tmp/runtime"
run() { env -i HOME="$home" XDG_RUNTIME_DIR="$tmp/runtime" PATH="$r/usr/bin:/usr/bin:/bin" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen "$@"; }
for bin in lathe lathe-studio; do
  ldd "$r/usr/bin/$bin" > "$tmp/ldd" || fail "ldd $bin"
  grep -q 'not found' "$tmp/ldd" && { cat "$tmp/ldd"; fail "$bin misses libraries"; }
  awk '$2 == "=>" {print $3}' "$tmp/ldd" | while read -r lib; do
    lib="$(readlink -f "$lib")"
    case "$lib" in
      "$r"/usr/lib/lathe/*) ;;
      /lib/*|/usr/lib/*) ;;
      *) fail "$bin loads $lib, outside the package and the system" ;;
    esac
  done
done
pass "ldd: every library from /usr/lib/lathe or the system"

touch "$tmp/marker"
sleep 1
out="$(run lathe --version)" || fail "lathe --version"
[ "$out" = "lathe $version" ] || fail "lathe --version printed '$out'"
pass "lathe --version: $out"

run lathe info "$r/usr/share/lathe/resources/demo-model" > "$tmp/info" 2>&1 || { cat "$tmp/info"; fail "lathe info on the demo model"; }
grep -qi 'llama\|param' "$tmp/info" || { cat "$tmp/info"; fail "lathe info printed no model facts"; }
pass "lathe info on the demo model: $(head -1 "$tmp/info")"

out="$(run lathe-studio --version 2>&1)" || fail "lathe-studio --version: $out"
[ "$out" = "Lathe Studio $version" ] || fail "lathe-studio --version printed '$out'"
pass "lathe-studio --version: $out"

# Two steps of the demo run: the run store and the tokenized dataset cache go to the XDG folders.
demo="$r/usr/share/lathe/resources"
sed -e "s|^base_model: .*|base_model: $demo/demo-model|" \
    -e "s|^  - path: resources/|  - path: $demo/|" \
    -e "s|^output_dir: .*|output_dir: $home/run|" "$demo/demo-data/run.yaml" > "$tmp/run.yaml"
echo "max_steps: 2" >> "$tmp/run.yaml"
(cd "$home" && run lathe train "$tmp/run.yaml") > "$tmp/train.log" 2>&1 || { tail -20 "$tmp/train.log"; fail "lathe train on the installed demo"; }
[ -f "$home/.local/share/lathe/lathe.db" ] || fail "no run store in \$XDG_DATA_HOME/lathe ($(find "$home" -maxdepth 4 | head -20))"
[ -d "$home/.cache/lathe/datasets" ] || fail "no dataset cache in \$XDG_CACHE_HOME/lathe"
pass "lathe train: run store in ~/.local/share/lathe, dataset cache in ~/.cache/lathe"

changed="$(find "$r" -newer "$tmp/marker" ! -path "$r/var/lib/dpkg*" | head -5)"
[ -z "$changed" ] || fail "running Lathe wrote into the installed tree: $changed"
pass "nothing written into the installed tree"

dpkg --root="$r" --force-not-root --log=/dev/null -r lathe > "$tmp/dpkg-r.log" 2>&1 || { cat "$tmp/dpkg-r.log"; fail "dpkg --root -r lathe"; }
[ ! -e "$r/usr/bin/lathe" ] || fail "removing the package left /usr/bin/lathe"
[ -f "$home/.local/share/lathe/lathe.db" ] || fail "removing the package removed the user's run store"
pass "removed; the user's runs stay"
echo "test_package: all checks passed"
