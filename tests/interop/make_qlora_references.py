"""Pre-quantized bitsandbytes 4-bit checkpoints and their logits, made by transformers + bitsandbytes (CPU).

For each case, OUT/<case>/ is what save_pretrained writes for a fixture model loaded with a
BitsAndBytesConfig (config.json with quantization_config; Linear4bit weights with absmax, quant_map,
nested_* and quant_state tensors), plus reference.safetensors: input_ids and the 4-bit model's logits.

usage: make_qlora_references.py OUT
"""
import os
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # bitsandbytes wraps its dequantize in torch.compile: eager is the same math
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_generic_kernels  # noqa: F401,E402  (before any 4-bit op: the generic kernels on every CPU)
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

FIXTURES = os.environ.get("LATHE_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "fixtures")

CASES = [
    # name, fixture model, quant type, double quantization
    ("llama-nf4-dq", "llama", "nf4", True),
    ("llama-fp4", "llama", "fp4", False),
    ("qwen2-nf4", "qwen2", "nf4", False),
    ("qwen3-fp4-dq", "qwen3", "fp4", True),
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, model_name, quant_type, double_quant in CASES:
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant_type,
                                    bnb_4bit_use_double_quant=double_quant, bnb_4bit_compute_dtype=torch.float32)
        model = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, "hf", "models", model_name),
                                                     quantization_config=config, device_map="cpu")
        model.eval()
        folder = os.path.join(out, name)
        model.save_pretrained(folder)
        g = torch.Generator().manual_seed(7)
        input_ids = torch.randint(0, model.config.vocab_size, (2, 11), generator=g)
        with torch.no_grad():
            logits = model(input_ids).logits.float()
        save_file({"input_ids": input_ids, "logits": logits.contiguous()}, os.path.join(folder, "reference.safetensors"))


if __name__ == "__main__":
    main()
