#!/usr/bin/env bash
# The first command in the README: install, build, and run Lathe on the bundled demo model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash packaging/build.sh
# The real demo model (fetched by packaging/setup.sh) is imported once into a git-ignored folder;
# without it the tiny bundled resources/demo-model is used.
demo_gguf="$root/.cache/demo-model/SmolLM2-135M-Instruct.Q4_1.gguf"
smol="$root/resources/smollm2-135m-instruct"
if [ -f "$demo_gguf" ] && [ ! -f "$smol/config.json" ]; then
  echo "== lathe import $demo_gguf --output $smol"
  build/app/lathe import "$demo_gguf" --output "$smol" --force
fi
if [ -f "$smol/config.json" ]; then
  echo
  echo "== lathe info $smol"
  build/app/lathe info "$smol"
  echo
  prompt="What is the capital of France?"
  echo "== lathe generate --model $smol --chat --greedy --max-new-tokens 40 --prompt \"$prompt\""
  build/app/lathe generate --model "$smol" --chat --greedy --max-new-tokens 40 --prompt "$prompt"
  exit 0
fi
demo="$root/resources/demo-model"
echo
echo "== lathe info $demo"
build/app/lathe info "$demo"
echo
echo "== lathe generate --model $demo --greedy --max-new-tokens 12 --prompt \"1 2 3 4\""
build/app/lathe generate --model "$demo" --greedy --max-new-tokens 12 --prompt "1 2 3 4"
