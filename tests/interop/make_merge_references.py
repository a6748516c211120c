"""Merged models made by mergekit itself (mergekit-yaml's own entry point), for `lathe merge`'s exactness tests.

Input models: OUT/models/base is the llama fixture grown to 4 decoder layers (layers 2 and 3 are
perturbed copies of 0 and 1, so gradients over layers interpolate between their ends); a, b and c are
the base with every tensor perturbed by seeded noise. Each recipe is written to OUT/configs/NAME.yml
(absolute paths, so `lathe merge` reads the same file) and merged by mergekit into OUT/merged/NAME.
OUT/cases.json lists the recipes.

usage: make_merge_references.py OUT
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

FIXTURES = os.environ.get("LATHE_FIXTURES") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")

LAYERS = 4


def make_models(out):
    src = os.path.join(FIXTURES, "hf", "models", "llama")
    weights = load_file(os.path.join(src, "model.safetensors"))
    g = torch.Generator().manual_seed(1234)
    with open(os.path.join(src, "config.json")) as f:
        config = json.load(f)
    source_layers = config["num_hidden_layers"]
    base = {}
    for name, t in weights.items():
        base[name] = t.clone()
        if ".layers." in name:
            layer = int(name.split(".layers.")[1].split(".")[0])
            for copy in range(layer + source_layers, LAYERS, source_layers):
                noise = torch.randn(t.shape, generator=g) * 0.1
                base[name.replace(f".layers.{layer}.", f".layers.{copy}.")] = t * (1 + noise)
    config["num_hidden_layers"] = LAYERS
    paths = {}
    for variant, scale in (("base", 0.0), ("a", 0.5), ("b", 0.3), ("c", 0.8)):
        folder = os.path.join(out, "models", variant)
        os.makedirs(folder, exist_ok=True)
        tensors = {}
        for name, t in sorted(base.items()):
            if scale:
                t = t + torch.randn(t.shape, generator=g) * scale * t.std()
            tensors[name] = t.contiguous()
        if variant == "b":
            # exactly colinear with the base: slerp falls back to lerp
            tensors["model.norm.weight"] = base["model.norm.weight"] * 2
        save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        shutil.copy(os.path.join(src, "generation_config.json"), folder)
        paths[variant] = os.path.abspath(folder)
    return paths


def recipes(m):
    """name -> mergekit YAML text."""
    return {
        "linear": f"""
merge_method: linear
models:
  - model: {m['a']}
    parameters:
      weight: 0.3
  - model: {m['b']}
    parameters:
      weight: [0.2, 0.8]
  - model: {m['c']}
    parameters:
      weight:
        - filter: self_attn
          value: 0.5
        - value: 1.0
dtype: float32
""",
        "linear_unnormalized": f"""
merge_method: linear
models:
  - model: {m['a']}
  - model: {m['b']}
parameters:
  weight: [0.9, 0.1, 0.6]
  normalize: false
""",
        "task_arithmetic": f"""
merge_method: task_arithmetic
base_model: {m['base']}
models:
  - model: {m['a']}
    parameters:
      weight: 0.6
  - model: {m['b']}
    parameters:
      weight:
        - filter: mlp
          value: [1.0, 0.0]
        - value: 0.4
parameters:
  lambda: 0.9
dtype: float32
""",
        "chat_vector": f"""
merge_method: task_arithmetic
base_model: {m['base']}
models:
  - model: {m['c']}
    parameters:
      weight: 1.0
  - model: {m['a']}
    parameters:
      weight: 0.5
dtype: float32
""",
        "ties": f"""
merge_method: ties
base_model: {m['base']}
models:
  - model: {m['base']}
  - model: {m['a']}
    parameters:
      weight: 1.0
      density: 0.5
  - model: {m['b']}
    parameters:
      weight: [0.3, 0.7]
      density: 0.7
  - model: {m['c']}
    parameters:
      weight: 0.5
      density:
        - filter: self_attn
          value: 0.3
        - value: 0.8
parameters:
  int8_mask: true
dtype: float32
""",
        "ties_rescaled": f"""
merge_method: ties
base_model: {m['base']}
models:
  - model: {m['a']}
    parameters:
      weight: 0.7
      density: 0.4
  - model: {m['c']}
    parameters:
      weight: 0.6
      density: 0.6
parameters:
  normalize: false
  rescale: true
  lambda: 1.3
""",
        "slerp": f"""
merge_method: slerp
base_model: {m['base']}
models:
  - model: {m['base']}
  - model: {m['b']}
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: float32
""",
        "breadcrumbs": f"""
merge_method: breadcrumbs
base_model: {m['base']}
models:
  - model: {m['a']}
    parameters:
      weight: 0.5
      density: 0.8
      gamma: 0.05
  - model: {m['b']}
    parameters:
      weight: 0.7
      density: 0.9
parameters:
  normalize: true
""",
        "breadcrumbs_ties": f"""
merge_method: breadcrumbs_ties
base_model: {m['base']}
models:
  - model: {m['a']}
    parameters:
      weight: 0.5
      density: 0.7
      gamma: 0.1
  - model: {m['c']}
    parameters:
      weight: 0.5
      density: 0.8
      gamma: 0.01
""",
        "linear_bf16": f"""
merge_method: linear
models:
  - model: {m['a']}
    parameters:
      weight: 0.25
  - model: {m['c']}
    parameters:
      weight: 0.75
dtype: bfloat16
out_dtype: float32
""",
    }


def main():
    out = os.path.abspath(sys.argv[1])
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "configs"))
    models = make_models(out)
    from mergekit.scripts.run_yaml import main as mergekit_yaml  # what the mergekit-yaml command runs

    cases = recipes(models)
    for name, text in cases.items():
        config = os.path.join(out, "configs", name + ".yml")
        with open(config, "w") as f:
            f.write(text.lstrip())
        mergekit_yaml([config, os.path.join(out, "merged", name), "--quiet", "--random-seed", "0"],
                      standalone_mode=False)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"cases": sorted(cases), "models": models}, f, indent=2)


if __name__ == "__main__":
    main()
