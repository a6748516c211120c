"""Reads a GGUF file with gguf-py (the reader llama.cpp's own tools use) and writes what it found.

usage: gguf_read.py MODEL.gguf OUT.json OUT.safetensors
  OUT.json: {"metadata": {key: value}, "tensors": [{"name", "type", "shape" (outermost first)}]}
  OUT.safetensors: every tensor dequantized by gguf.quants.dequantize, float32, outermost dim first.
Any error gguf-py raises makes the script fail.
"""
import json
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType
from gguf import quants
from safetensors.numpy import save_file


def main(path, out_json, out_st):
    r = GGUFReader(path)
    meta = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        v = field.contents()
        meta[key] = v
    tensors = []
    data = {}
    for t in r.tensors:
        shape = [int(d) for d in reversed(t.shape.tolist())]
        tensors.append({"name": t.name, "type": t.tensor_type.name, "shape": shape, "n_bytes": int(t.n_bytes)})
        x = quants.dequantize(t.data, t.tensor_type)
        data[t.name] = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(shape))
    with open(out_json, "w") as f:
        json.dump({"metadata": meta, "tensors": tensors}, f)
    save_file(data, out_st)


if __name__ == "__main__":
    main(*sys.argv[1:4])
