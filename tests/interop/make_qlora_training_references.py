"""QLoRA training references, made by transformers + PEFT + bitsandbytes (CPU): a fixture model loaded in
4 bits (BitsAndBytesConfig, quantized on load), a LoRA / rsLoRA / DoRA adapter on top, trained over a
training fixture's rows with torch.optim.AdamW, and every step's loss recorded.

For each case OUT/<case>/ holds:
  reference.json   the run (model, quantization, adapter, optimizer settings, batches) and step_losses
  adapter_init/    the PEFT adapter training starts from (B non-zero, so every gradient is exercised)
  adapter_final/   the adapter it ends with
  adapter_fresh/   (DoRA) PEFT's default initialisation on the 4-bit model: its magnitude vector is
                   the norm of each dequantized weight row

Settings as tests/fixtures/hf/training/*/reference.json: float32, AdamW (lr 0.01, betas 0.9/0.999,
eps 1e-8, weight decay 0.01), constant lr, batches of 4 in file order, two epochs, right padding with
pad id 0 (attention mask 0, label -100), the mean cross-entropy over the batch's label tokens, no
gradient clipping, eager attention, dropout 0.

usage: make_qlora_training_references.py OUT
"""
import json
import os
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # bitsandbytes wraps its dequantize in torch.compile: eager is the same math
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_generic_kernels  # noqa: F401,E402  (before any 4-bit op: the generic kernels on every CPU)
from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

FIXTURES = os.environ.get("LATHE_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")

ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

CASES = [
    # name, fixture model, training fixture (rows; its adapter_init when adapter is None), quant type,
    # double quantization, adapter settings (None: the training fixture's adapter_init)
    ("llama-nf4-dq-lora", "llama", "llama", "nf4", True, None),
    ("qwen2-fp4-rslora", "qwen2", "qwen2", "fp4", False, {"r": 4, "lora_alpha": 8, "use_rslora": True, "use_dora": False}),
    ("llama-nf4-dora", "llama", "llama", "nf4", False, {"r": 4, "lora_alpha": 8, "use_rslora": False, "use_dora": True}),
]

LR, BETAS, EPS, WEIGHT_DECAY, BATCH, EPOCHS = 0.01, (0.9, 0.999), 1e-8, 0.01, 4, 2


def load_4bit(model_name, quant_type, double_quant):
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant_type, bnb_4bit_use_double_quant=double_quant,
                                bnb_4bit_compute_dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, "hf", "models", model_name), quantization_config=config,
                                                 device_map="cpu", attn_implementation="eager", dtype=torch.float32)
    # What Axolotl does for adapter: qlora (casts half-precision non-4-bit weights to float32: none here).
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def collate(rows):
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        mask[i, :n] = 1
        labels[i, :n] = torch.tensor(r.get("labels", r["input_ids"]))
    return ids, mask, labels


def make_case(out, name, model_name, training, quant_type, double_quant, adapter):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    training_dir = os.path.join(FIXTURES, "hf", "training", training)
    base = load_4bit(model_name, quant_type, double_quant)
    if adapter is None:
        model = PeftModel.from_pretrained(base, os.path.join(training_dir, "adapter_init"), is_trainable=True)
    else:
        if adapter["use_dora"]:  # PEFT's default initialisation (B = 0), for the fresh-adapter comparison
            torch.manual_seed(0)
            fresh = get_peft_model(load_4bit(model_name, quant_type, double_quant),
                                   LoraConfig(target_modules=ALL_LINEAR, lora_dropout=0.0, **adapter))
            fresh.save_pretrained(os.path.join(folder, "adapter_fresh"))
        torch.manual_seed(1)
        model = get_peft_model(base, LoraConfig(target_modules=ALL_LINEAR, lora_dropout=0.0, init_lora_weights=False, **adapter))
    model.save_pretrained(os.path.join(folder, "adapter_init"))

    with open(os.path.join(training_dir, "train.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
    model.train()
    losses = []
    for _ in range(EPOCHS):
        for start in range(0, len(rows), BATCH):
            ids, mask, labels = collate(rows[start:start + BATCH])
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    model.save_pretrained(os.path.join(folder, "adapter_final"))

    reference = {
        "model": "models/" + model_name,
        "training": "training/" + training,
        "quantization": {"load_in_4bit": True, "bnb_4bit_quant_type": quant_type, "bnb_4bit_use_double_quant": double_quant,
                         "bnb_4bit_compute_dtype": "float32"},
        "adapter": adapter or "training fixture's adapter_init",
        "optimizer": "adamw", "lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": WEIGHT_DECAY,
        "lr_schedule": "constant", "batch_size": BATCH, "epochs": EPOCHS, "shuffle": False, "max_grad_norm": None,
        "dtype": "float32",
        "step_losses": losses,
    }
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)


def main():
    out = sys.argv[1]
    for case in CASES:
        make_case(out, *case)


if __name__ == "__main__":
    main()
