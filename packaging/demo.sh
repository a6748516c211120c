#!/usr/bin/env bash
# The first command in the README: install, build, and run Lathe on the bundled demo model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash packaging/build.sh
demo="$root/resources/demo-model"
echo
echo "== lathe info $demo"
build/app/lathe info "$demo"
echo
echo "== lathe generate --model $demo --greedy --max-new-tokens 12 --prompt \"1 2 3 4\""
build/app/lathe generate --model "$demo" --greedy --max-new-tokens 12 --prompt "1 2 3 4"
