"""4-bit (NF4/FP4) and 8-bit blockwise quantization references made by bitsandbytes' CPU backend.

Writes OUT/cases.json and one OUT/<case>.safetensors per case: the input tensor, the bytes and absmax
bitsandbytes' quantize_4bit gives (with double quantization: the 8-bit absmax, its nested absmax, code and
offset), the quant_state tensor it serialises, and dequantize_4bit's values in every compute dtype.
Inputs are random (odd sizes, a zero block, remainder blocks) and real fixture weights.

usage: make_bnb_references.py OUT
"""
import json
import os
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # bitsandbytes wraps its dequantize in torch.compile: eager is the same math, minutes faster
import torch
from safetensors.torch import load_file, save_file

import bitsandbytes.functional as F
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_generic_kernels  # noqa: F401,E402  (before any 4-bit op: the generic kernels on every CPU)

FIXTURES = os.environ.get("LATHE_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "fixtures")

DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def random_input(shape, dtype, seed, zero_block=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * 0.05
    if zero_block and x.numel() >= 128:
        x.view(-1)[64:128] = 0  # a block of exact zeros: absmax 0
    return x.to(dtype)


def fixture_weight(model, name):
    return load_file(os.path.join(FIXTURES, "hf", "models", model, "model.safetensors"))[name]


def write_case(out, name, weight, quant_type, blocksize, double_quant, storage=torch.uint8):
    packed, state = F.quantize_4bit(weight, blocksize=blocksize, compress_statistics=double_quant,
                                    quant_type=quant_type, quant_storage=storage)
    tensors = {"input": weight.contiguous(), "packed": packed.contiguous()}
    for key, value in state.as_dict(packed=True).items():
        tensors[key] = value.contiguous()
    if double_quant:
        tensors["nested_offset"] = state.offset.reshape(1).float()
    for dtype, dtype_name in DTYPE_NAMES.items():
        state.dtype = dtype
        tensors["dequant." + dtype_name] = F.dequantize_4bit(packed, state).contiguous()
    save_file(tensors, os.path.join(out, name + ".safetensors"))
    return {"name": name, "quant_type": quant_type, "blocksize": blocksize, "double_quant": double_quant,
            "shape": list(weight.shape), "input_dtype": DTYPE_NAMES[weight.dtype],
            "storage": str(storage).replace("torch.", "")}


def write_blockwise_case(out, name, values, blocksize):
    codes, state = F.quantize_blockwise(values, blocksize=blocksize)
    back = F.dequantize_blockwise(codes, state)
    save_file({"input": values, "codes": codes, "absmax": state.absmax, "code": state.code, "dequant": back},
              os.path.join(out, name + ".safetensors"))
    return {"name": name, "blocksize": blocksize, "shape": list(values.shape)}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = []
    seed = 0
    for quant_type in ("nf4", "fp4"):
        for shape in ([64, 64], [33, 17], [7], [3, 5, 21], [300, 257]):
            for double_quant in (False, True):
                seed += 1
                name = f"{quant_type}-{'x'.join(map(str, shape))}-{'dq' if double_quant else 'plain'}"
                cases.append(write_case(out, name, random_input(shape, torch.float32, seed, zero_block=True),
                                        quant_type, 64, double_quant))
        for blocksize in (32, 128, 256, 512, 1024, 2048, 4096):
            seed += 1
            cases.append(write_case(out, f"{quant_type}-bs{blocksize}", random_input([96, 130], torch.float32, seed),
                                    quant_type, blocksize, blocksize % 256 == 0))
        for dtype in (torch.bfloat16, torch.float16):
            seed += 1
            cases.append(write_case(out, f"{quant_type}-{DTYPE_NAMES[dtype]}", random_input([65, 64], dtype, seed),
                                    quant_type, 64, True))
        cases.append(write_case(out, f"{quant_type}-llama-q_proj", fixture_weight("llama", "model.layers.0.self_attn.q_proj.weight"),
                                quant_type, 64, True))
        cases.append(write_case(out, f"{quant_type}-llama-down_proj", fixture_weight("llama", "model.layers.1.mlp.down_proj.weight"),
                                quant_type, 64, False))
        cases.append(write_case(out, f"{quant_type}-qwen2-k_proj", fixture_weight("qwen2", "model.layers.0.self_attn.k_proj.weight"),
                                quant_type, 128, True))
        cases.append(write_case(out, f"{quant_type}-storage-bf16", random_input([32, 64], torch.bfloat16, 99),
                                quant_type, 64, False, storage=torch.bfloat16))
    blockwise = []
    for n in (1, 255, 256, 257, 1000, 4097):
        seed += 1
        values = random_input([n], torch.float32, seed) - 0.01
        blockwise.append(write_blockwise_case(out, f"blockwise-{n}", values, 256))
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"four_bit": cases, "blockwise": blockwise,
                   "nf4_code": F.get_4bit_type("nf4", device="cpu").tolist(),
                   "fp4_code": F.get_4bit_type("fp4", device="cpu").tolist()}, f, indent=1)


if __name__ == "__main__":
    main()
