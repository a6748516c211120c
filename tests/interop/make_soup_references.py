"""References for `lathe soup` (greedy soup), made with transformers and mergekit.

Reads the models make_merge_references.py wrote (OUT/models/base, a, c) and adds OUT/models/p and q
(the base with small independent seeded noise, so that their average is nearer the base than either)
and d (the base with its final norm scaled by -4, so that its logits point away from what the base
predicts: an ingredient no soup is better for). Writes into OUT/soup:
- held_out.jsonl: pretokenized rows, each 4 seeded random tokens continued greedily by the base (so the
  held-out loss tells the models apart);
- reference.json: each ingredient's held-out loss (transformers' causal LM loss over all rows), the order
  they are tried in, and the greedy soup as Wortsman et al. describe it: starting from the best
  ingredient, each next one is kept when the loss of the uniform average of the soup and it does not
  rise, with that loss; and the uniform soup's loss;
- uniform.yml and uniform/: mergekit's linear merge with equal weights of all five (mergekit-yaml's entry
  point), which `lathe soup --uniform-output` must equal.

usage: make_soup_references.py OUT   (OUT = the folder make_merge_references.py filled)
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

INGREDIENTS = ("a", "p", "q", "c", "d")
ROWS, PROMPT, CONTINUATION = 8, 4, 20


def make_variant(models, name, change):
    base = models["base"]
    folder = os.path.join(os.path.dirname(base), name)
    os.makedirs(folder, exist_ok=True)
    tensors = change(load_file(os.path.join(base, "model.safetensors")))
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    for f in ("config.json", "generation_config.json"):
        shutil.copy(os.path.join(base, f), folder)
    return os.path.abspath(folder)


def negated_norm(tensors):
    tensors["model.norm.weight"] = tensors["model.norm.weight"] * -4
    return tensors


def noisy(seed, scale):
    def change(tensors):
        g = torch.Generator().manual_seed(seed)
        return {n: (t + torch.randn(t.shape, generator=g) * scale * t.std()).contiguous() for n, t in sorted(tensors.items())}
    return change


def load(folder):
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    return model


def held_out_rows(base):
    model = load(base)
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(3, vocab, (ROWS, PROMPT), generator=g)
    with torch.no_grad():
        for _ in range(CONTINUATION):
            nxt = model(ids).logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
    return ids


@torch.no_grad()
def loss_of(model, ids):
    return model(ids, labels=ids).loss.item()


def soup_loss(folders, ids):
    """The uniform average of the models' weights, loaded into the first model's module."""
    model = load(folders[0])
    states = [load_file(os.path.join(f, "model.safetensors")) for f in folders]
    averaged = {name: sum(s[name] for s in states) / len(states) for name in states[0]}
    model.load_state_dict(averaged, strict=True)
    return loss_of(model, ids)


def main():
    out = os.path.abspath(sys.argv[1])
    with open(os.path.join(out, "cases.json")) as f:
        models = json.load(f)["models"]
    # p and q: independent small perturbations of the base, whose average is nearer the base than either.
    models["p"] = make_variant(models, "p", noisy(11, 0.15))
    models["q"] = make_variant(models, "q", noisy(12, 0.2))
    models["d"] = make_variant(models, "d", negated_norm)
    soup_dir = os.path.join(out, "soup")
    os.makedirs(soup_dir, exist_ok=True)

    ids = held_out_rows(models["base"])
    with open(os.path.join(soup_dir, "held_out.jsonl"), "w") as f:
        for row in ids.tolist():
            f.write(json.dumps({"input_ids": row}) + "\n")

    inputs = [models[v] for v in INGREDIENTS]
    losses = {m: loss_of(load(m), ids) for m in inputs}
    order = sorted(inputs, key=lambda m: losses[m])  # stable: ties keep the input order
    kept, best = [order[0]], losses[order[0]]
    steps = []
    for m in order[1:]:
        loss = soup_loss(kept + [m], ids)
        keep = loss <= best
        steps.append({"input": m, "soup_loss": loss, "kept": keep})
        if keep:
            kept, best = kept + [m], loss

    recipe = "merge_method: linear\nmodels:\n" + "".join(
        f"  - model: {m}\n    parameters:\n      weight: 1.0\n" for m in inputs)
    with open(os.path.join(soup_dir, "uniform.yml"), "w") as f:
        f.write(recipe)
    from mergekit.scripts.run_yaml import main as mergekit_yaml
    mergekit_yaml([os.path.join(soup_dir, "uniform.yml"), os.path.join(soup_dir, "uniform"), "--quiet"],
                  standalone_mode=False)

    with open(os.path.join(soup_dir, "reference.json"), "w") as f:
        json.dump({"inputs": inputs, "losses": [losses[m] for m in inputs], "order": order, "steps": steps,
                   "kept": kept, "greedy_loss": best, "uniform_loss": soup_loss(inputs, ids)}, f, indent=2)


if __name__ == "__main__":
    main()
