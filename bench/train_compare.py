"""LoRA training throughput, Lathe against Hugging Face transformers + PEFT, on the same random-initialised
model shape, batch and sequence length, in one run. The HF side is a plain PyTorch loop: SDPA attention,
bfloat16 weights, LoRA r=16 on all linear layers, fused AdamW. Prints one line per library.

usage: .venv-interop/bin/python bench/train_compare.py BUILD_DIR SHAPE MICRO_BATCH SEQ [--gradient-checkpointing] [--device cuda]
SHAPE: qwen2.5-0.5b, llama-3.2-1b, llama-3.1-8b (or tiny, for a CPU smoke run)
"""
import argparse
import json
import subprocess
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM

SHAPES = {
    "tiny": dict(model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=512, max_position_embeddings=4096, tie_word_embeddings=False),
    "qwen2.5-0.5b": dict(model_type="qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rms_norm_eps=1e-6,
                         rope_theta=1000000.0, tie_word_embeddings=True),
    "llama-3.2-1b": dict(model_type="llama", hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                         num_key_value_heads=8, head_dim=64, vocab_size=128256, max_position_embeddings=131072, tie_word_embeddings=True),
    "llama-3.1-8b": dict(model_type="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                         num_key_value_heads=8, vocab_size=128256, max_position_embeddings=131072, tie_word_embeddings=False),
}


def hf(shape, micro_batch, seq, checkpointing, device, steps=10, warmup=3):
    kwargs = dict(SHAPES[shape])
    config = AutoConfig.for_model(kwargs.pop("model_type"), **kwargs)
    config._attn_implementation = "sdpa"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).to(device)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.0))
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()  # float32 master weights for the adapter, as Lathe keeps them
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, fused=device.startswith("cuda"))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    measured = 0.0
    for step in range(warmup + steps):
        ids = torch.randint(config.vocab_size, (micro_batch, seq), device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if step >= warmup:
            measured += time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")
    return micro_batch * seq * steps / measured, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("shape", choices=SHAPES)
    ap.add_argument("micro_batch", type=int)
    ap.add_argument("seq", type=int)
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    tps, peak = hf(a.shape, a.micro_batch, a.seq, a.gradient_checkpointing, a.device)
    print(f"HF transformers + PEFT  {a.shape} mb={a.micro_batch} seq={a.seq} ckpt={a.gradient_checkpointing}: "
          f"{tps:,.0f} tokens/s, peak {peak:.1f} GiB")
    cmd = [f"{a.build}/app/lathe", "bench", "train", "--shape", a.shape, "--micro-batch", str(a.micro_batch), "--seq", str(a.seq),
           "--device", a.device, "--dtype", "bfloat16"] + (["--gradient-checkpointing"] if a.gradient_checkpointing else [])
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(f"Lathe                   {a.shape} mb={a.micro_batch} seq={a.seq} ckpt={a.gradient_checkpointing}: "
          f"{r['tokens_per_s']:,.0f} tokens/s, peak {r['peak_gib']:.1f} GiB ({r['peak_kind']})")


if __name__ == "__main__":
    main()
