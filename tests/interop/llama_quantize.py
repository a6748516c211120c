"""Quantizes a GGUF file with llama.cpp's own llama_model_quantize (what the llama-quantize tool runs),
no importance matrix.

usage: llama_quantize.py IN.gguf OUT.gguf TYPE   (TYPE: q4_0, q8_0, q4_k_m, q5_k_m, q6_k)
"""
import ctypes
import sys

import llama_cpp

FTYPES = {
    "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
    "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
    "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "q5_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "q6_k": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
}


def main(src, dst, kind):
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[kind]
    params.nthread = 1
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize failed: {rc}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
