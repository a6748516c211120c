#!/usr/bin/env bash
# Creates .venv-bench: a benchmark-only virtualenv with Hugging Face `datasets` and `transformers`
# (tokenizers) for bench/data_compare.py. Never needed by Lathe itself or its tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-bench"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --progress-bar off "datasets==5.2.0" "transformers==5.17.0" "tokenizers==0.23.2" jinja2
