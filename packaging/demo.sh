#!/usr/bin/env bash
# The first command in the README: build, then show a whole finetune on the bundled demo data with LoRA.
# The model is SmolLM2-135M-Instruct when packaging/setup.sh fetched it (imported once into the git-ignored
# resources/smollm2-135m-instruct, config resources/demo-data/run-smollm2.yaml: it learns to answer like a
# pirate), else the tiny random resources/demo-model (resources/demo-data/run.yaml). With a display it opens
# Lathe Studio on the demo, ready to start; without one it runs the same finetune with the CLI, printing
# the loss, and then asks the base model and the trained adapter the same question.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash packaging/build.sh

demo_gguf="$root/.cache/demo-model/SmolLM2-135M-Instruct.Q4_1.gguf"
smol=resources/smollm2-135m-instruct
if [ -f "$demo_gguf" ] && [ ! -f "$smol/config.json" ]; then
    echo "== lathe import $demo_gguf --output $smol"
    build/app/lathe import "$demo_gguf" --output "$smol" --force
fi
if [ -f "$smol/config.json" ]; then
    model=$smol
    run=resources/demo-data/run-smollm2.yaml
else
    echo "(SmolLM2-135M-Instruct was not fetched: packaging/setup.sh downloads it; using the tiny random demo model)"
    model=resources/demo-model
    run=resources/demo-data/run.yaml
fi
echo
echo "== lathe info $model"
build/app/lathe info "$model"

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x build/app/lathe-studio ]; then
    echo
    echo "== lathe-studio --demo: press \"Start training\" and watch the loss fall on the Monitor"
    exec build/app/lathe-studio --demo
fi

# No display: the same run with the CLI, into a fresh output folder.
out="outputs/demo-$(date +%Y%m%d-%H%M%S)"
config="$(mktemp --suffix=.yaml)"
trap 'rm -f "$config"' EXIT
sed "s|^output_dir: .*|output_dir: $out|" "$run" > "$config"
echo
echo "== lathe train $run (LoRA on $model, output $out)"
start=$SECONDS
build/app/lathe train "$config" | while IFS= read -r line; do
    if [[ $line =~ \"event\":\"step\" ]]; then
        [[ $line =~ \"step\":([0-9]+) ]] && step=${BASH_REMATCH[1]}
        [[ $line =~ \"total_steps\":([0-9]+) ]] && total=${BASH_REMATCH[1]}
        [[ $line =~ \"loss\":([0-9.eE+-]+) ]] && loss=${BASH_REMATCH[1]}
        [[ $line =~ \"elapsed_s\":([0-9.]+) ]] && elapsed=${BASH_REMATCH[1]}
        # The tiny model runs hundreds of fast steps: show every 10th.
        if (( total <= 60 || step % 10 == 0 || step == 1 )); then
            printf 'step %4d / %d   loss %.4f   %5.0f s\n' "$step" "$total" "$loss" "$elapsed"
        fi
    elif [[ $line =~ \"event\":\"(eval|checkpoint|warning|error|end)\" ]]; then
        echo "$line"
    fi
done
echo "(training took $((SECONDS - start)) s)"

# Before and after: the same question to the base model and with the last checkpoint's adapter.
last="$(ls -d "$out"/checkpoint-* 2>/dev/null | sort -V | tail -1)"
if [ "$model" = "$smol" ] && [ -n "$last" ]; then
    prompt="What is the capital of France?"  # not in chat.jsonl
    answer() { [[ $1 =~ \"text\":\"([^\"]*)\" ]] && echo "${BASH_REMATCH[1]}"; }
    echo
    echo "== lathe generate --model $model --chat --greedy --prompt \"$prompt\""
    answer "$(build/app/lathe generate --model "$model" --chat --greedy --max-new-tokens 40 --prompt "$prompt")"
    echo
    echo "== lathe generate --model $model --adapter $last --chat --greedy --prompt \"$prompt\""
    answer "$(build/app/lathe generate --model "$model" --adapter "$last" --chat --greedy --max-new-tokens 40 --prompt "$prompt")"
fi
echo
echo "== lathe runs list"
build/app/lathe runs list
