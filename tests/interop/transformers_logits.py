"""Logits of a model folder as transformers loads it (from_pretrained), and what it read: proves that a
folder Lathe exported is one transformers loads and computes the same with.

usage: transformers_logits.py MODEL_DIR INPUT.safetensors OUT.safetensors
Writes OUT with float32 `logits`, and OUT.json with the dtype transformers loaded the weights in, the
parameter count and, when the folder has a tokenizer, its chat template rendering of a conversation.
"""
import json
import os
import sys

import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_generic_kernels  # noqa: F401,E402  (a 4-bit base computes as on every CPU)
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer


def main(model_dir, input_path, out_path):
    # dtype="auto": the dtype config.json declares, as users load it.
    model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="eager", dtype="auto").eval()
    info = {"dtype": str(model.dtype).replace("torch.", ""), "parameters": sum(p.numel() for p in model.parameters())}
    ids = load_file(input_path)["input_ids"]
    with torch.no_grad():
        logits = model.float()(input_ids=ids).logits
    save_file({"logits": logits.float().contiguous()}, out_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError):
        tokenizer = None
    if tokenizer is not None and tokenizer.chat_template:
        messages = [{"role": "user", "content": "Hello"}]
        info["chat"] = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    with open(out_path + ".json", "w") as f:
        json.dump(info, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
