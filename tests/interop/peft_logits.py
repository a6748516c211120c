"""Logits of a base model with a PEFT adapter applied by peft itself: proves that an adapter Lathe
saved is one peft loads and computes the same with.

usage: peft_logits.py BASE_MODEL_DIR ADAPTER_DIR INPUT.safetensors OUT.safetensors
"""
import os
import sys

import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_generic_kernels  # noqa: F401,E402  (a 4-bit base computes as on every CPU)
from peft import PeftModel
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM


def main(base_dir, adapter_dir, input_path, out_path):
    base = AutoModelForCausalLM.from_pretrained(base_dir, attn_implementation="eager", dtype=torch.float32).eval()
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    ids = load_file(input_path)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_file({"logits": logits.float().contiguous()}, out_path)


if __name__ == "__main__":
    main(*sys.argv[1:5])
