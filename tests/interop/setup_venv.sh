#!/usr/bin/env bash
# Creates .venv-interop: a test-only virtualenv with transformers (tests/interop/requirements.txt).
# It reuses the torch already in .venv (a .pth file adds that site-packages) instead of a second 5 GB copy.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv-interop"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
main_site="$(echo "$root"/.venv/lib/python3*/site-packages)"
own_site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$main_site" > "$own_site/lathe_main_venv.pth"
stamp="$venv/.requirements"
if ! cmp -s "$root/tests/interop/requirements.txt" "$stamp"; then
  "$venv/bin/pip" install -q --progress-bar off -r "$root/tests/interop/requirements.txt"
  cp "$root/tests/interop/requirements.txt" "$stamp"
fi
