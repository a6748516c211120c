#!/usr/bin/env bash
# How closely each export format follows the model it was made from, as `lathe export --verify` measures
# it: SmolLM2-135M-Instruct (the demo model, imported from its Q4_1 GGUF) exported as a merged folder and as
# GGUF of every type, each read back and compared on the built-in texts. The figures go into
# docs/export.md; core/export/export_check.cpp's thresholds sit below them with a margin.
#   bash bench/export_check_thresholds.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lathe="${1:-$root/build}/app/lathe"
gguf="$root/.cache/demo-model/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -f "$gguf" ] || { echo "no $gguf: run packaging/setup.sh first" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$lathe" import "$gguf" --output "$work/smollm2" >/dev/null 2>&1
printf '%-8s %8s %10s %10s %12s %12s %s\n' format tokens top1 mean_kl ppl_trained ppl_export seconds
for type in merged f32 f16 bf16 q8_0 q6_k q5_k_m q4_k_m q4_0; do
  if [ "$type" = merged ]; then args=(--format merged --dtype bfloat16); else args=(--format gguf --gguf-type "$type"); fi
  start=$(date +%s.%N)
  "$lathe" export --model "$work/smollm2" "${args[@]}" --output "$work/out-$type" --verify 2>/dev/null | tail -1 > "$work/check.json"
  end=$(date +%s.%N)
  python3 - "$work/check.json" "$type" "$start" "$end" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<8} {c['tokens']:>8} {c['top1_agreement']:>10.4f} {c['mean_kl']:>10.5f} {c['perplexity_trained']:>12.3f} {c['perplexity_exported']:>12.3f} {float(sys.argv[4]) - float(sys.argv[3]):.0f}")
PY
  rm -rf "$work/out-$type"
done
