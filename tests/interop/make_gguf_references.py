"""Quantization references for Lathe's GGUF code, made by ggml itself and by gguf-py.

ggml: the C library that llama-cpp-python ships (libggml-base), called through ctypes:
ggml_quantize_chunk with no importance matrix runs the same quantize_row_*_ref code llama-quantize
runs. gguf-py: gguf.quants (numpy ports of the legacy quantizers and of every dequantizer).

usage: make_gguf_references.py OUT_DIR   -> OUT_DIR/quants.safetensors with
  input                  float32 [R, N]  rows with awkward distributions (zeros, constants, outliers, tiny, huge)
  TYPE.ggml              uint8   [R, B]  ggml_quantize_chunk(TYPE, input)
  TYPE.gguf_py           uint8   [R, B]  gguf.quants.quantize(input, TYPE) where gguf-py has a quantizer
  TYPE.dequantized       float32 [R, N]  gguf.quants.dequantize(TYPE.ggml, TYPE)
"""
import ctypes
import glob
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants
from safetensors.numpy import save_file

N = 512  # two K-quant super-blocks per row
TYPES = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"]


def rows():
    rng = np.random.default_rng(1234)
    out = []
    for scale in (1.0, 0.02, 1e-4, 1e-7, 300.0, 7e4):
        out.append(rng.standard_normal(N) * scale)
    out.append(rng.uniform(-1, 1, N))
    out.append(rng.uniform(0.5, 2, N))        # all positive: min > 0 paths
    out.append(-rng.uniform(0.5, 2, N))       # all negative
    r = rng.standard_normal(N) * 0.05
    r[::37] = 8.0                             # outliers
    out.append(r)
    out.append(np.zeros(N))                   # all zero
    out.append(np.full(N, 0.375))             # constant
    r = rng.standard_normal(N)
    r[:64] = 0.0                              # zero blocks beside non-zero ones
    r[256:288] = 1.5
    out.append(r)
    r = np.zeros(N)
    r[rng.integers(0, N, 20)] = rng.standard_normal(20)   # sparse
    out.append(r)
    r = np.round(rng.standard_normal(N) * 4) / 4          # values on a grid: rounding ties
    out.append(r)
    for _ in range(17):
        out.append(rng.standard_normal(N) * rng.uniform(0.001, 3))
    return np.stack(out).astype(np.float32)


def load_ggml():
    # LATHE_GGML_LIB_DIR: a libggml-base build to use instead of llama-cpp-python's.
    lib_dir = os.environ.get("LATHE_GGML_LIB_DIR")
    if not lib_dir:
        import llama_cpp
        lib_dir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
    candidates = sorted(glob.glob(os.path.join(lib_dir, "libggml-base.*"))) + sorted(glob.glob(os.path.join(lib_dir, "libggml.*")))
    if not candidates:
        raise SystemExit(f"no libggml-base in {lib_dir}")
    lib = ctypes.CDLL(candidates[0], mode=ctypes.RTLD_GLOBAL)
    f = lib.ggml_quantize_chunk
    f.restype = ctypes.c_size_t
    f.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    return f


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    x = rows()
    quantize_chunk = load_ggml()
    refs = {"input": x}
    for name in TYPES:
        qt = T[name]
        block, size = quants.GGML_QUANT_SIZES[qt]
        row_bytes = N // block * size
        dst = np.zeros((x.shape[0], row_bytes), dtype=np.uint8)
        src = np.ascontiguousarray(x)
        n = quantize_chunk(int(qt), src.ctypes.data, dst.ctypes.data, 0, x.shape[0], N, None)
        assert n == dst.size, (name, n, dst.size)
        refs[f"{name}.ggml"] = dst
        try:
            refs[f"{name}.gguf_py"] = np.ascontiguousarray(quants.quantize(x, qt)).view(np.uint8).reshape(x.shape[0], -1)
        except NotImplementedError:
            pass
        refs[f"{name}.dequantized"] = np.ascontiguousarray(quants.dequantize(dst, qt).astype(np.float32))
    save_file(refs, os.path.join(out_dir, "quants.safetensors"))


if __name__ == "__main__":
    main(sys.argv[1])
