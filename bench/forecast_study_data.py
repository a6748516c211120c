"""Makes the inputs of bench/forecast_study.sh: tiny random-weight Llama models of several sizes (made by
transformers from a config, so `lathe train` loads them like any Hugging Face folder) and a generated
corpus, pretokenized, whose structure a small model learns gradually (unigram, then bigram, then
trigram statistics), so its loss falls over thousands of steps as a real pretraining curve does.

usage: python forecast_study_data.py OUT_DIR
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM

VOCAB = 512
SEQ = 64


def make_model(out, hidden, layers, heads):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads, head_dim=hidden // heads,
                         max_position_embeddings=256, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)


def make_corpus(path, rows, seed):
    """A trigram language: each (previous two tokens) context picks its next token from a Zipf-shaped
    distribution over a few candidates; the candidates of a context come from its last token's (so the
    bigram statistics carry most, and the trigram the rest, of what can be learned)."""
    rng = np.random.default_rng(seed)
    n_cand = 8
    bigram_cand = rng.integers(3, VOCAB, size=(VOCAB, n_cand))
    zipf = 1.0 / np.arange(1, n_cand + 1) ** 1.1
    # The trigram: the earlier token permutes which candidate is likely.
    shift = rng.integers(0, n_cand, size=VOCAB)
    gen = np.random.default_rng(seed + 1)
    with open(path, "w") as f:
        for _ in range(rows):
            ids = list(gen.integers(3, VOCAB, size=2))
            while len(ids) < SEQ:
                a, b = ids[-2], ids[-1]
                p = np.roll(zipf, shift[a]) / zipf.sum()
                ids.append(int(bigram_cand[b][gen.choice(n_cand, p=p)]))
            f.write(json.dumps({"input_ids": [int(i) for i in ids]}) + "\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, hidden, layers, heads in [("s", 32, 1, 2), ("m", 64, 2, 4), ("l", 96, 3, 4)]:
        if not os.path.exists(f"{out}/model-{name}/model.safetensors"):
            make_model(f"{out}/model-{name}", hidden, layers, heads)
    if not os.path.exists(f"{out}/corpus.jsonl"):
        make_corpus(f"{out}/corpus.jsonl", 20000, seed=7)


if __name__ == "__main__":
    main()
