"""Logits of a bitsandbytes 4-bit model folder as transformers + bitsandbytes load it on the CPU: proves
that a folder `lathe quantize` wrote is one they load, and compute the same with.

usage: bnb_logits.py MODEL_DIR INPUT.safetensors OUT.safetensors
Writes OUT with float32 `logits`, and OUT.json with how many Linear4bit layers the loaded model has.
"""
import json
import os
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # bitsandbytes wraps its dequantize in torch.compile: eager is the same math
import torch
import bitsandbytes as bnb
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_generic_kernels  # noqa: F401,E402  (before any 4-bit op: the generic kernels on every CPU)
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM


def main(model_dir, input_path, out_path):
    model = AutoModelForCausalLM.from_pretrained(model_dir, device_map="cpu").eval()
    layers = sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    ids = load_file(input_path)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_file({"logits": logits.float().contiguous()}, out_path)
    with open(out_path + ".json", "w") as f:
        json.dump({"linear4bit_layers": layers}, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
