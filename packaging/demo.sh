#!/usr/bin/env bash
# The first command in the README: install, build, and show a whole finetune of the bundled demo model
# (resources/demo-model) on the bundled demo data (resources/demo-data) with LoRA. With a display it
# opens Lathe Studio on the demo, ready to start; without one it runs the same finetune with the CLI.
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

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x build/app/lathe-studio ]; then
    echo
    echo "== lathe-studio --demo: press \"Start training\" and watch the loss fall on the Monitor"
    exec build/app/lathe-studio --demo
fi

# No display: the same run (resources/demo-data/run.yaml) with the CLI, into a fresh output folder.
config="$(mktemp --suffix=.yaml)"
trap 'rm -f "$config"' EXIT
sed "s|^output_dir: .*|output_dir: outputs/demo-$(date +%Y%m%d-%H%M%S)|" resources/demo-data/run.yaml > "$config"
echo
echo "== lathe train resources/demo-data/run.yaml (LoRA on the demo model; every 10th step shown)"
build/app/lathe train "$config" | while IFS= read -r line; do
    if [[ $line =~ \"event\":\"step\" ]]; then
        [[ $line =~ \"step\":([0-9]+) ]] && step=${BASH_REMATCH[1]}
        [[ $line =~ \"total_steps\":([0-9]+) ]] && total=${BASH_REMATCH[1]}
        [[ $line =~ \"loss\":([0-9.eE+-]+) ]] && loss=${BASH_REMATCH[1]}
        if (( step % 10 == 0 || step == 1 )); then printf 'step %4d / %d   loss %.4f\n' "$step" "$total" "$loss"; fi
    elif [[ $line =~ \"event\":\"(eval|checkpoint|warning|error|end)\" ]]; then
        echo "$line"
    fi
done
echo
echo "== lathe runs list"
build/app/lathe runs list
