"""Training-mode losses of models whose config turns dropout on, from transformers itself: one forward
per seed (torch.manual_seed(seed), model.train(), eager attention, labels = input_ids), plus the
evaluation-mode loss. Dropout masks come from torch's random generator, so Lathe cannot be compared
draw by draw; its test compares the distribution over seeds (mean and spread), which moves when any of
the dropouts is missing, misplaced or at the wrong rate.

  gpt2            the GPT-2 fixture as it is (embd_pdrop, attn_pdrop, resid_pdrop = 0.1)
  llama-attn-0.2  the Llama fixture (grouped-query attention) with attention_dropout 0.2
  phi3-resid-0.1  the Phi-3 fixture with resid_pdrop 0.1 and attention_dropout 0.1

usage: make_dropout_references.py FIXTURES_HF_MODELS OUT_DIR
"""
import json
import shutil
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

SEEDS = 400
CASES = {
    "gpt2": ("gpt2", {}),
    "llama-attn-0.2": ("llama", {"attention_dropout": 0.2}),
    "phi3-resid-0.1": ("phi3", {"resid_pdrop": 0.1, "attention_dropout": 0.1}),
}


def main(models: Path, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    result = {"seeds": SEEDS, "cases": {}}
    for name, (fixture, overrides) in CASES.items():
        folder = out / name
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(models / fixture, folder)
        config = json.loads((folder / "config.json").read_text())
        config.update(overrides)
        (folder / "config.json").write_text(json.dumps(config, indent=2))
        model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32)
        ids = load_file(str(folder / "reference.safetensors"))["input_ids"]
        with torch.no_grad():
            model.eval()
            eval_loss = model(input_ids=ids, labels=ids).loss.item()
            model.train()
            losses = []
            for seed in range(SEEDS):
                torch.manual_seed(seed)
                losses.append(model(input_ids=ids, labels=ids).loss.item())
        result["cases"][name] = {"eval_loss": eval_loss, "train_losses": losses}
    result["versions"] = f"transformers {transformers.__version__}, torch {torch.__version__}"
    (out / "losses.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
