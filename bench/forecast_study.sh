#!/usr/bin/env bash
# The study behind docs/forecast.md: trains 12 tiny models (3 sizes, several learning rates, schedules
# and seeds) for 2,000 steps each on a generated corpus with `lathe train`, then replays each run's
# events through the forecaster (bench_forecast) as the trainer would have seen them at 20% of the run,
# and compares the projections with the real final losses.
# usage: bash bench/forecast_study.sh OUT_DIR
# env:   LATHE   the lathe binary (default build/app/lathe)
#        FORECAST the bench_forecast binary (default build/bench/bench_forecast)
#        PYTHON  a Python with torch and transformers (default .venv-interop/bin/python; tests/interop)
# Runs already recorded in OUT_DIR/runs are kept (the study can be resumed), and each run is claimed
# (OUT_DIR/runs/NAME.claimed) by the one process training it, so two or more of this script can share the
# list (a second started at once halves the wall time on a machine with spare cores). One thread per
# run: on a small CPU, LibTorch's threads only fight each other over models this size.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: forecast_study.sh OUT_DIR}"
lathe="${LATHE:-$root/build/app/lathe}"
forecast="${FORECAST:-$root/build/bench/bench_forecast}"
python="${PYTHON:-$root/.venv-interop/bin/python}"
mkdir -p "$out/runs"
"$python" "$root/bench/forecast_study_data.py" "$out"

# name  model  learning_rate  lr_scheduler  seed
runs=(
  "s-1e-3-cos-1   s 0.001 cosine 1"
  "m-1e-3-cos-1   m 0.001 cosine 1"
  "l-1e-3-cos-1   l 0.001 cosine 1"
  "s-3e-3-cos-1   s 0.003 cosine 1"
  "m-3e-3-cos-1   m 0.003 cosine 1"
  "l-3e-3-cos-1   l 0.003 cosine 1"
  "s-3e-3-cos-2   s 0.003 cosine 2"
  "m-3e-3-cos-2   m 0.003 cosine 2"
  "l-3e-3-const-2 l 0.003 constant_with_warmup 2"
  "s-1e-2-cos-1   s 0.01  cosine 1"
  "m-3e-3-lin-1   m 0.003 linear 1"
  "s-3e-3-wsd-3   s 0.003 warmup_stable_decay 3"
)
for spec in "${runs[@]}"; do
  read -r name model lr schedule seed <<<"$spec"
  events="$out/runs/$name.jsonl"
  if [ -f "$events" ] && tail -1 "$events" | grep -q '"status":"completed"'; then continue; fi
  mkdir "$out/runs/$name.claimed" 2>/dev/null || continue  # another process of this script trains it
  cat >"$out/runs/$name.yaml" <<YAML
base_model: $out/model-$model
datasets:
  - path: $out/corpus.jsonl
    type: pretokenized
val_set_size: 0.005
sequence_len: 64
micro_batch_size: 4
max_steps: 2000
learning_rate: $lr
lr_scheduler: $schedule
warmup_steps: 50
eval_steps: 100
device: cpu
seed: $seed
output_dir: $out/runs/$name-out
dataset_prepared_path: $out/prepared
YAML
  echo "forecast_study: training $name" >&2
  rm -rf "$out/runs/$name-out"
  OMP_NUM_THREADS=1 "$lathe" train "$out/runs/$name.yaml" --store "$out/runs/$name.db" >"$events" 2>"$out/runs/$name.log" ||
    { rmdir "$out/runs/$name.claimed"; echo "forecast_study: $name failed: see $out/runs/$name.log" >&2; exit 1; }
  rm -rf "$out/runs/$name-out"  # the checkpoints are not needed, only the events
  rmdir "$out/runs/$name.claimed"
done

for spec in "${runs[@]}"; do  # wait for the runs another process is still training
  read -r name _ <<<"$spec"
  while [ -d "$out/runs/$name.claimed" ]; do sleep 10; done
done
"$forecast" "$out"/runs/*.jsonl
