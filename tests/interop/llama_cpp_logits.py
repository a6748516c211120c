"""Logits llama.cpp computes for a GGUF model (through llama-cpp-python, CPU).

usage: llama_cpp_logits.py MODEL.gguf INPUT.safetensors OUT.safetensors
  INPUT: input_ids int64 [B, T]; OUT: logits float32 [B, T, V], each row run from an empty context.
"""
import sys

import numpy as np
from llama_cpp import Llama
from safetensors.numpy import load_file, save_file


def main(model, input_path, out_path):
    ids = load_file(input_path)["input_ids"]
    llm = Llama(model_path=model, n_ctx=max(64, ids.shape[1]), n_batch=512, n_threads=2, logits_all=True, verbose=False)
    rows = []
    for row in ids:
        llm.reset()
        llm.eval([int(i) for i in row])
        rows.append(np.array(llm.scores[: len(row)], dtype=np.float32))
    save_file({"logits": np.ascontiguousarray(np.stack(rows))}, out_path)


if __name__ == "__main__":
    main(*sys.argv[1:4])
