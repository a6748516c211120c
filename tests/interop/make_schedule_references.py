"""Learning-rate multipliers from transformers' own schedulers (transformers.optimization), for
Lathe's schedule tests. Writes OUT_DIR/schedules.json: a list of {kind, warmup_steps, total_steps,
min_lr_ratio, decay_ratio, multipliers: [one per optimizer step]}.

usage: make_schedule_references.py OUT_DIR
"""
import json
import sys
from pathlib import Path

import torch
from transformers import get_scheduler

CASES = [
    ("constant", 0, 20, 0.0, 0.0),
    ("constant_with_warmup", 5, 20, 0.0, 0.0),
    ("linear", 0, 20, 0.0, 0.0),
    ("linear", 4, 23, 0.0, 0.0),
    ("cosine", 0, 20, 0.0, 0.0),
    ("cosine", 3, 31, 0.0, 0.0),
    ("cosine_with_min_lr", 3, 31, 0.1, 0.0),
    # Axolotl's `cosine` with cosine_min_lr_ratio: its get_cosine_schedule_with_min_lr, which is
    # transformers' cosine_with_min_lr formula (made with that below).
    ("cosine", 3, 31, 0.2, 0.0),
    ("warmup_stable_decay", 4, 40, 0.05, 0.25),
]


def multipliers(kind, warmup, total, min_lr_ratio, decay_ratio):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    kwargs = {}
    if kind == "cosine" and min_lr_ratio > 0:
        kind = "cosine_with_min_lr"
    if kind == "cosine_with_min_lr":
        kwargs = {"min_lr_rate": min_lr_ratio}
    if kind == "warmup_stable_decay":
        decay = int(total * decay_ratio)
        kwargs = {"num_decay_steps": decay, "min_lr_ratio": min_lr_ratio, "decay_type": "cosine"}
    sched = get_scheduler(kind, opt, num_warmup_steps=warmup, num_training_steps=total, scheduler_specific_kwargs=kwargs)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    cases = [{"kind": k, "warmup_steps": w, "total_steps": t, "min_lr_ratio": m, "decay_ratio": d,
              "multipliers": multipliers(k, w, t, m, d)} for k, w, t, m, d in CASES]
    (out / "schedules.json").write_text(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
