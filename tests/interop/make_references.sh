#!/usr/bin/env bash
# Makes every interop reference with the Hugging Face libraries themselves, in the test-only
# virtualenv (.venv-interop): OUT/models, OUT/sentencepiece, OUT/schedules.json, OUT/optimizer, OUT/tokenizers, OUT/render, OUT/bnb, OUT/qlora and OUT/qlora_training (bitsandbytes), OUT/dropout, OUT/merge (mergekit; OUT/merge/soup for greedy soup), OUT/preference (TRL).
# ctest runs this once before the tests that read them (fixture "interop_refs").
set -euo pipefail
out="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bash "$here/setup_venv.sh"
py="$root/.venv-interop/bin/python"
mkdir -p "$out"
"$py" "$here/make_model_references.py" "$out/models"
"$py" "$here/make_sentencepiece_references.py" "$out/sentencepiece"
"$py" "$here/make_schedule_references.py" "$out"
"$py" "$here/make_optimizer_references.py" "$out/optimizer"
"$py" "$here/make_render_references.py" "$out/render"
if [ -f "$here/make_tokenizer_references.py" ]; then
  "$py" "$here/make_tokenizer_references.py" "$out/tokenizers"
fi
"$py" "$here/make_data_references.py" "$out/data"
"$py" "$here/make_parquet_references.py" "$out/parquet"
"$py" "$here/make_bnb_references.py" "$out/bnb"
"$py" "$here/make_qlora_references.py" "$out/qlora"
"$py" "$here/make_qlora_training_references.py" "$out/qlora_training"
"$py" "$here/make_dropout_references.py" "$root/tests/fixtures/hf/models" "$out/dropout"
"$py" "$here/make_merge_references.py" "$out/merge"
"$py" "$here/make_soup_references.py" "$out/merge"
"$py" "$here/make_preference_references.py" "$out/preference"
