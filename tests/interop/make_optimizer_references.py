"""AdamW and SGD updates and gradient clipping from PyTorch itself (torch.optim.AdamW, torch.optim.SGD,
torch.nn.utils.clip_grad_norm_), for Lathe's optimizer tests. Writes OUT_DIR/adamw.json, OUT_DIR/sgd.json
and OUT_DIR/clip.json; every float32 value is written as the double it equals, so nothing is rounded on
the way.

adamw.json: {betas, eps, steps, groups: [{lr, weight_decay, params: [{shape, init, grads: [one per step],
final: {<implementation>: {param, exp_avg, exp_avg_sq}}}]}]} for the implementations "default" (what
torch.optim.AdamW runs on the CPU by default: the single-tensor path), "foreach" and "fused".
sgd.json: {steps, groups: [{lr, weight_decay, params: [{shape, init, grads, final: {param}}]}]}: what
transformers' `optim: sgd` runs (torch.optim.SGD, no momentum), CPU default path.
clip.json: {max_norm, cases: [{grads: [{shape, values}], total_norm, clipped: [values]}]}.

usage: make_optimizer_references.py OUT_DIR
"""
import json
import sys
from pathlib import Path

import torch

BETAS, EPS, STEPS = (0.9, 0.95), 1e-8, 4
GROUPS = [  # (lr, weight_decay, shapes)
    (1e-2, 0.1, [(5, 7), (3,)]),
    (3e-3, 0.0, [(4, 4, 2)]),
]


def values(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def adamw_case():
    gen = torch.Generator().manual_seed(1234)
    groups = []
    for lr, wd, shapes in GROUPS:
        params = []
        for shape in shapes:
            init = torch.randn(shape, generator=gen)
            # Gradients over several orders of magnitude, some near eps, as real ones are.
            grads = [torch.randn(shape, generator=gen) * 10.0 ** torch.randint(-8, 1, shape, generator=gen).float() for _ in range(STEPS)]
            params.append({"shape": list(shape), "init": init, "grads": grads, "final": {}})
        groups.append({"lr": lr, "weight_decay": wd, "params": params})
    for name, kwargs in [("default", {}), ("foreach", {"foreach": True}), ("fused", {"fused": True})]:
        tensors = [[torch.nn.Parameter(p["init"].clone()) for p in g["params"]] for g in groups]
        opt = torch.optim.AdamW([{"params": ts, "lr": g["lr"], "weight_decay": g["weight_decay"]} for ts, g in zip(tensors, groups)],
                                betas=BETAS, eps=EPS, **kwargs)
        for step in range(STEPS):
            for ts, g in zip(tensors, groups):
                for t, p in zip(ts, g["params"]):
                    t.grad = p["grads"][step].clone()
            opt.step()
        for ts, g in zip(tensors, groups):
            for t, p in zip(ts, g["params"]):
                state = opt.state[t]
                p["final"][name] = {"param": values(t), "exp_avg": values(state["exp_avg"]), "exp_avg_sq": values(state["exp_avg_sq"])}
    for g in groups:
        for p in g["params"]:
            p["init"] = values(p["init"])
            p["grads"] = [values(x) for x in p["grads"]]
    return {"betas": list(BETAS), "eps": EPS, "steps": STEPS, "groups": groups}


def sgd_case():
    gen = torch.Generator().manual_seed(4321)
    groups = []
    for lr, wd, shapes in GROUPS:
        params = []
        for shape in shapes:
            init = torch.randn(shape, generator=gen)
            grads = [torch.randn(shape, generator=gen) for _ in range(STEPS)]
            params.append({"shape": list(shape), "init": init, "grads": grads})
        groups.append({"lr": lr, "weight_decay": wd, "params": params})
    tensors = [[torch.nn.Parameter(p["init"].clone()) for p in g["params"]] for g in groups]
    opt = torch.optim.SGD([{"params": ts, "lr": g["lr"], "weight_decay": g["weight_decay"]} for ts, g in zip(tensors, groups)], lr=1.0)
    for step in range(STEPS):
        for ts, g in zip(tensors, groups):
            for t, p in zip(ts, g["params"]):
                t.grad = p["grads"][step].clone()
        opt.step()
    for ts, g in zip(tensors, groups):
        for t, p in zip(ts, g["params"]):
            p["final"] = {"param": values(t)}
            p["init"] = values(p["init"])
            p["grads"] = [values(x) for x in p["grads"]]
    return {"steps": STEPS, "groups": groups}


def clip_case():
    gen = torch.Generator().manual_seed(99)
    cases = []
    for scale in (1.0, 1e-3):  # clipped, and left alone (norm under max_norm)
        grads = [torch.randn(shape, generator=gen) * scale for shape in [(6, 5), (11,), (2, 3, 4)]]
        params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm=0.5)
        cases.append({"grads": [{"shape": list(g.shape), "values": values(g)} for g in grads], "total_norm": float(total),
                      "clipped": [values(p.grad) for p in params]})
    return {"max_norm": 0.5, "cases": cases}


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "adamw.json").write_text(json.dumps(adamw_case()))
    (out / "sgd.json").write_text(json.dumps(sgd_case()))
    (out / "clip.json").write_text(json.dumps(clip_case()))


if __name__ == "__main__":
    main()
