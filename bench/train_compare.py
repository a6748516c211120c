"""LoRA training throughput and peak memory, Lathe against Hugging Face transformers + PEFT, on the same
random-initialised model shape, batch, sequence length and kind of batch, in one run. The HF side is a plain
PyTorch loop: SDPA attention, bfloat16 weights (autocast), LoRA r=16 on all linear layers, float32 adapter
weights, AdamW (fused on CUDA). Prints one line per library, and with --json-out appends one JSON object per
library to a file.

usage: python bench/train_compare.py BUILD_DIR SHAPE MICRO_BATCH SEQ [--gradient-checkpointing]
           [--device cuda|cpu] [--mask none|padded|packed] [--steps N] [--warmup N] [--json-out FILE]
SHAPE: qwen2.5-0.5b, llama-3.2-1b, llama-3.1-8b (or tiny, for a smoke run)
--mask: none   every row is SEQ real tokens, no attention mask;
        padded rows of random lengths between SEQ/4 and SEQ, right-padded (HF: attention_mask, labels -100);
        packed rows filled with sequences of random lengths between SEQ/4 and SEQ (the last one cut to fit),
               positions restarting at each sequence (HF: position_ids and no attention_mask, from which
               transformers builds the block-diagonal mask; the first token of each sequence is not a label).
tokens/s counts real (non-padding) tokens.
"""
import argparse
import json
import random
import subprocess
import sys
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


def random_lengths(rng, seq):
    return rng.randint(max(2, seq // 4), seq)


def make_batch(mask, micro_batch, seq, vocab, rng, device):
    """input_ids, labels and the attention_mask / position_ids of one batch of the given kind."""
    ids = torch.randint(vocab, (micro_batch, seq), device=device)
    labels = ids.clone()
    attention_mask = position_ids = None
    if mask == "padded":
        attention_mask = torch.zeros(micro_batch, seq, dtype=torch.long, device=device)
        for row in range(micro_batch):
            n = random_lengths(rng, seq)
            attention_mask[row, :n] = 1
        labels[attention_mask == 0] = -100
    elif mask == "packed":
        position_ids = torch.zeros(micro_batch, seq, dtype=torch.long, device=device)
        for row in range(micro_batch):
            start = 0
            while start < seq:
                n = min(random_lengths(rng, seq), seq - start)
                position_ids[row, start:start + n] = torch.arange(n, device=device)
                labels[row, start] = -100  # no sequence predicts the first token of the next
                start += n
    real_tokens = int(attention_mask.sum()) if attention_mask is not None else micro_batch * seq
    return ids, labels, attention_mask, position_ids, real_tokens


def hf(a):
    kwargs = dict(SHAPES[a.shape])
    config = AutoConfig.for_model(kwargs.pop("model_type"), **kwargs)
    config._attn_implementation = "sdpa"
    cuda = a.device.startswith("cuda")
    with torch.device(a.device):  # random weights made on the device, as Lathe makes them
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    if a.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.0))
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()  # float32 master weights for the adapter, as Lathe keeps them
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, fused=cuda)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rng = random.Random(0)
    measured, tokens, loss = 0.0, 0, float("nan")
    for step in range(a.warmup + a.steps):
        ids, labels, attention_mask, position_ids, real = make_batch(a.mask, a.micro_batch, a.seq, config.vocab_size, rng, a.device)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(device_type="cuda" if cuda else "cpu", dtype=torch.bfloat16):
            out = model(input_ids=ids, labels=labels, attention_mask=attention_mask, position_ids=position_ids)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss = out.loss.item()  # one sync per step, as any training loop that logs its loss has
        if step >= a.warmup:
            measured += time.perf_counter() - t0
            tokens += real
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    return {"library": "hf+peft", "tokens_per_s": tokens / measured, "peak_gib": peak,
            "peak_kind": "torch.cuda.max_memory_allocated" if cuda else "n/a", "last_loss": loss}


def lathe(a):
    cmd = [f"{a.build}/app/lathe", "bench", "train", "--shape", a.shape, "--micro-batch", str(a.micro_batch), "--seq", str(a.seq),
           "--device", a.device, "--dtype", "bfloat16", "--steps", str(a.steps), "--warmup", str(a.warmup)]
    if a.gradient_checkpointing:
        cmd.append("--gradient-checkpointing")
    if a.mask != "none":  # older builds know no --mask; none is their only kind
        cmd += ["--mask", a.mask]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.stderr.write(f"lathe failed ({run.returncode}): {' '.join(cmd)}\n{run.stderr}\n{run.stdout}\n")
        return {"library": "lathe", "error": run.stderr.strip()[-2000:], "command": " ".join(cmd)}
    r = json.loads(run.stdout.strip().splitlines()[-1])
    r["library"] = "lathe"
    r["tokens_per_s"] = r.get("real_tokens_per_s", r["tokens_per_s"])
    r["command"] = " ".join(cmd)
    return r


def describe(r, a):
    case = f"{a.shape} mb={a.micro_batch} seq={a.seq} ckpt={a.gradient_checkpointing} mask={a.mask}"
    name = {"hf+peft": "HF transformers + PEFT", "lathe": "Lathe"}[r["library"]]
    if "error" in r:
        return f"{name:24}{case}: FAILED"
    return f"{name:24}{case}: {r['tokens_per_s']:,.0f} tokens/s, peak {r['peak_gib']:.2f} GiB ({r['peak_kind']})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("shape", choices=SHAPES)
    ap.add_argument("micro_batch", type=int)
    ap.add_argument("seq", type=int)
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--mask", choices=["none", "padded", "packed"], default="none")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json-out", help="append one JSON object per library to this file")
    ap.add_argument("--only", choices=["hf", "lathe"], help="run one side only")
    a = ap.parse_args()
    results = []
    for side, fn in (("hf", hf), ("lathe", lathe)):
        if a.only and a.only != side:
            continue
        try:
            r = fn(a)
        except Exception as e:  # an HF OOM is a figure too: report it and go on to the other side
            r = {"library": "hf+peft" if side == "hf" else "lathe", "error": f"{type(e).__name__}: {e}"[:2000]}
        if a.device.startswith("cuda"):
            torch.cuda.empty_cache()
        results.append(r)
        print(describe(r, a), flush=True)
    if a.json_out:
        with open(a.json_out, "a") as f:
            for r in results:
                f.write(json.dumps({"shape": a.shape, "micro_batch": a.micro_batch, "seq": a.seq, "mask": a.mask,
                                    "gradient_checkpointing": a.gradient_checkpointing, "device": a.device,
                                    "torch": torch.__version__, **r}) + "\n")
    if any("error" in r for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
