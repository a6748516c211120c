"""Bytes that autograd saves for the backward pass of a LoRA training step, per token and per decoder layer,
in Hugging Face transformers + PEFT: the figure `lathe bench train --saved-bytes` gives for Lathe
(docs/performance.md, "Saved bytes per token per layer").

The model is built from the shape's config values with random weights and L decoder layers, PEFT adds LoRA
(r=16, alpha=32, every linear layer but the head, dropout 0.05 as Lathe's presets), and one training forward
(model(input_ids, labels=input_ids): the layers, the head and the loss) runs inside
torch.autograd.graph.saved_tensors_hooks. Every tensor autograd saves goes through the pack hook, which keeps
it (so nothing is freed earlier than without the hook) and notes its storage.

Counting rule: a storage is counted once, at its full size (untyped_storage().nbytes()), however many saved
tensors (views, the same input saved by q, k and v) share it; storages that existed before the forward
(parameters, buffers, the input ids) are not counted. That is what an allocator sees: the bytes allocated
during the forward that stay alive until the backward. Per layer: (bytes(L) - bytes(1)) / (L - 1) / tokens,
so the embedding, the head and the loss cancel out.

usage: .venv-interop/bin/python bench/saved_bytes_hf.py --shape qwen2.5-0.5b --dtype float32 [--layers 3]
           [--seq 512] [--autocast] [--by-op]
--dtype bfloat16: the model's weights in bfloat16; PEFT's defaults then keep the adapter in float32
(autocast_adapter_dtype) and cast the adapter's input to float32. --autocast adds torch.autocast(bfloat16),
as Trainer(bf16=True) runs. --by-op lists the saved storages of one layer by the autograd nodes that save
them. Prints one JSON line.
"""
import argparse
import collections
import json

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM

# The config values of Lathe's benchmark shapes (core/cli/bench_command.cpp, kShapes).
SHAPES = {
    "tiny": dict(model_type="llama", hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
                 vocab_size=512, max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False),
    "qwen2.5-0.5b": dict(model_type="qwen2", hidden_size=896, intermediate_size=4864, num_attention_heads=14, num_key_value_heads=2,
                         vocab_size=151936, max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0,
                         tie_word_embeddings=True),
    "llama-3.2-1b": dict(model_type="llama", hidden_size=2048, intermediate_size=8192, num_attention_heads=32, num_key_value_heads=8,
                         head_dim=64, vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=True,
                         rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                           original_max_position_embeddings=8192), rope_theta=500000.0),
    "llama-3.1-8b": dict(model_type="llama", hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
                         vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=False,
                         rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                           original_max_position_embeddings=8192), rope_theta=500000.0),
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def build(a, layers):
    values = dict(SHAPES[a.shape])
    config = AutoConfig.for_model(values.pop("model_type"), num_hidden_layers=layers, **values)
    config._attn_implementation = "sdpa"
    model = AutoModelForCausalLM.from_config(config, dtype=DTYPES[a.dtype])
    model = get_peft_model(model, LoraConfig(r=a.lora_r, lora_alpha=2 * a.lora_r, lora_dropout=a.lora_dropout,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    model.train()
    return model


def storage_key(t):
    s = t.untyped_storage()
    return s.data_ptr(), s.nbytes()


def saved_graph_nodes(root):
    """(node name, saved tensor) for every tensor saved by every node reachable from root."""
    seen, stack, out = set(), [root], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        for attr in dir(node):
            if attr.startswith("_saved_"):
                value = getattr(node, attr)
                for v in value if isinstance(value, (tuple, list)) else [value]:
                    if isinstance(v, torch.Tensor):
                        out.append((type(node).__name__, v))
        stack.extend(fn for fn, _ in node.next_functions)
    return out


def measure(a, layers):
    """Saved bytes of one training forward with `layers` decoder layers, and the saved storages by node."""
    torch.manual_seed(0)
    model = build(a, layers)
    ids = torch.randint(model.config.vocab_size, (a.micro_batch, a.seq))
    before = {storage_key(t)[0] for t in list(model.parameters()) + list(model.buffers()) + [ids]}
    kept, counted = [], {}

    def pack(t):
        kept.append(t)
        ptr, size = storage_key(t)
        if ptr not in before and size > 0:
            counted[ptr] = size
        return len(kept) - 1

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda i: kept[i]):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast):
            loss = model(input_ids=ids, labels=ids).loss
    by_node = collections.Counter()
    if a.by_op:
        owner = {}
        for name, t in saved_graph_nodes(loss.grad_fn):
            ptr, size = storage_key(t)
            if ptr in counted:
                owner.setdefault(ptr, set()).add(f"{name} {tuple(t.shape)} {str(t.dtype).replace('torch.', '')}")
        for ptr, size in counted.items():
            by_node[" + ".join(sorted(owner.get(ptr, {"(not reachable from the loss)"})))] += size
    total = sum(counted.values())
    del loss, kept, model
    return total, by_node


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=SHAPES, default="qwen2.5-0.5b")
    ap.add_argument("--dtype", choices=DTYPES, default="float32")
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--micro-batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-dropout", type=float, default=0.05)
    ap.add_argument("--autocast", action="store_true")
    ap.add_argument("--by-op", action="store_true")
    a = ap.parse_args()
    if a.layers < 2:
        ap.error("--layers must be at least 2 (the per-layer figure is the difference against one layer)")
    torch.set_grad_enabled(True)
    full, full_by = measure(a, a.layers)
    one, one_by = measure(a, 1)
    tokens = a.micro_batch * a.seq
    out = {"library": "hf+peft", "shape": a.shape, "dtype": a.dtype, "autocast": a.autocast, "layers": a.layers,
           "micro_batch": a.micro_batch, "seq": a.seq, "lora_r": a.lora_r, "lora_dropout": a.lora_dropout,
           "torch": torch.__version__, "saved_bytes": {str(a.layers): full, "1": one},
           "saved_bytes_per_token_per_layer": (full - one) / (a.layers - 1) / tokens}
    if a.by_op:
        per_layer = {k: (full_by[k] - one_by.get(k, 0)) / (a.layers - 1) / tokens for k in full_by}
        out["per_token_per_layer_by_node"] = {k: v for k, v in sorted(per_layer.items(), key=lambda kv: -kv[1]) if v != 0}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
