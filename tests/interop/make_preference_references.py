"""Preference-tuning references made by TRL itself: DPOTrainer (sigmoid, IPO, robust; LoRA and full finetuning
with precomputed reference log-probabilities), ORPOTrainer and CPOTrainer (SimPO), each run for a few optimizer
steps on a tiny Qwen2-shaped model, float32 on the CPU, no dropout, in file order.

OUT_DIR gets:
  model/             the model (random weights, transformers' save_pretrained) with the qwen-hf fixture tokenizer
                     and its ChatML chat template
  adapter_init/      the LoRA adapter every LoRA case starts from (PEFT's default initialisation: B = 0)
  conversational.jsonl, text.jsonl, implicit.jsonl
                     preference rows: prompt/chosen/rejected as message lists, as strings, and chosen/rejected as
                     whole conversations sharing their prompt
  eval_conversational.jsonl, eval_text.jsonl, eval_implicit.jsonl
                     three more pairs of each form: the validation set of the cases that evaluate
  CASE/reference.json
                     the settings of the run (dataset, method keys as Lathe's YAML spells them, optimizer) and per
                     step: loss, rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies,
                     logps/chosen, logps/rejected, as TRL computed them; plus the tokenized rows of the first batch;
                     cases that evaluate: `evals`, what trainer.evaluate() logged at every eval_steps (eval_loss and
                     TRL's eval_rewards/..., eval_logps/...), with the step it ran after

usage: make_preference_references.py OUT_DIR
"""
import json
import os
import shutil
import sys
from pathlib import Path

import torch
from datasets import Dataset
from peft import LoraConfig, PeftModel, get_peft_model
from torch.utils.data import SequentialSampler
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config
from trl import DPOConfig, DPOTrainer
from trl.experimental.cpo import CPOConfig, CPOTrainer
from trl.experimental.orpo import ORPOConfig, ORPOTrainer

HERE = Path(__file__).resolve().parent
TOKENIZER = HERE.parent / "fixtures" / "hf" / "tokenizers" / "bytelevel-regex-qwen-hf"
METRICS = ["rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"]
STEPS = 4
BATCH = 2
LR = 5e-3
LORA = dict(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

QUESTIONS = [
    ("What colour is the sky?", "It is blue.", "It is green, like grass."),
    ("Name a prime number.", "Seven.", "Nine is prime."),
    ("How many legs has a cat?", "Four legs.", "A cat has six."),
    ("What is 2 + 2?", "2 + 2 = 4", "It is 5"),
    ("Where does the sun rise?", "In the east.", "In the west, every morning."),
    ("What do bees make?", "Honey and wax.", "Milk."),
    ("Is ice cold?", "Yes, ice is cold.", "No."),
    ("What is the capital of France?", "Paris.", "Lyon is the capital of France."),
]
# The validation pairs: three, so that evaluation batches of two end with a short one.
EVAL_QUESTIONS = [
    ("What is 3 + 3?", "Six.", "It is eight, I think."),
    ("Which animal barks?", "A dog barks.", "The fish."),
    ("What colour is snow?", "White.", "Snow is red."),
]
EVAL_STEPS = 2
EVAL_METRICS = ["eval_loss"] + ["eval_" + k for k in METRICS]


def write_datasets(out, questions=QUESTIONS, prefix=""):
    conv, text, implicit = [], [], []
    for i, (q, good, bad) in enumerate(questions):
        prompt = [{"role": "user", "content": q}]
        if i % 3 == 0:
            prompt = [{"role": "system", "content": "Answer briefly."}] + prompt
        conv.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": good}],
                     "rejected": [{"role": "assistant", "content": bad}]})
        text.append({"prompt": f"Question: {q}\nAnswer:", "chosen": " " + good, "rejected": " " + bad})
        implicit.append({"chosen": prompt + [{"role": "assistant", "content": good}],
                         "rejected": prompt + [{"role": "assistant", "content": bad}]})
    for name, rows in [("conversational", conv), ("text", text), ("implicit", implicit)]:
        with open(out / f"{prefix}{name}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return {f"{prefix}conversational": conv, f"{prefix}text": text, f"{prefix}implicit": implicit}


def make_model(out):
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=1503, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False, attention_dropout=0.0,
                         pad_token_id=0, eos_token_id=2, bos_token_id=None)
    model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32)
    folder = out / "model"
    model.save_pretrained(folder)
    for f in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja"]:
        shutil.copy(TOKENIZER / f, folder / f)
    torch.manual_seed(1)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32), LoraConfig(lora_dropout=0.0, **LORA))
    peft_model.save_pretrained(out / "adapter_init")
    return folder


def load(folder, out, lora):
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager")
    if lora:
        model = PeftModel.from_pretrained(model, out / "adapter_init", is_trainable=True)
    return model


def common_args(out_dir, accumulation):
    return dict(output_dir=str(out_dir), max_steps=STEPS, per_device_train_batch_size=BATCH, gradient_accumulation_steps=accumulation,
                learning_rate=LR, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
                optim="adamw_torch", adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, logging_steps=1,
                save_strategy="no", report_to=[], use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
                seed=42, remove_unused_columns=False, dataloader_drop_last=False)


def recording(base):
    """The trainer, in file order (no shuffle), recording each step's loss and TRL's metrics as it computes them."""

    class Recording(base):
        def _get_train_sampler(self, *args, **kwargs):
            return SequentialSampler(self.train_dataset)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
            value = loss[0] if isinstance(loss, tuple) else loss
            if model.training:
                stored = self._metrics["train"] if hasattr(self, "_metrics") else self._stored_metrics["train"]
                step = {"loss": value.item()}
                for k in METRICS:
                    step[k] = float(stored[k][-1])
                self.recorded.append(step)
                if not hasattr(self, "first_batch"):
                    self.first_batch = {k: v.tolist() for k, v in inputs.items() if torch.is_tensor(v)}
            return loss

    return Recording


def run_case(out, folder, datasets, name, trainer_kind, dataset, keys, lora, accumulation=1, evaluate=False, **extra):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = load(folder, out, lora)
    args = common_args(out / name / "trainer", accumulation)
    train = Dataset.from_list(datasets[dataset])
    kwargs = dict(train_dataset=train, processing_class=tokenizer)
    if evaluate:  # trainer.evaluate() on the validation pairs after every EVAL_STEPS steps, in batches of BATCH
        args.update(eval_strategy="steps", eval_steps=EVAL_STEPS, per_device_eval_batch_size=BATCH)
        kwargs["eval_dataset"] = Dataset.from_list(datasets["eval_" + dataset])
    if trainer_kind == "dpo":
        trainer = recording(DPOTrainer)(model=model, args=DPOConfig(**args, **extra), **kwargs)
    elif trainer_kind == "orpo":
        trainer = recording(ORPOTrainer)(model=model, args=ORPOConfig(**args, **extra), **kwargs)
    else:
        trainer = recording(CPOTrainer)(model=model, args=CPOConfig(**args, **extra), **kwargs)
    trainer.recorded = []
    trainer.train()
    # A step's loss and metrics are the mean over its micro-batches (the Trainer divides each micro-batch's
    # loss by the accumulation steps; TRL's log averages the metrics it stored per micro-batch).
    calls = trainer.recorded
    assert len(calls) == STEPS * accumulation, calls
    steps = [{k: sum(c[k] for c in calls[i:i + accumulation]) / accumulation for k in calls[i]} for i in range(0, len(calls), accumulation)]
    evals = [{"step": e["step"], **{k: e[k] for k in EVAL_METRICS}} for e in trainer.state.log_history if "eval_loss" in e]
    assert not evaluate or len(evals) == STEPS // EVAL_STEPS, trainer.state.log_history
    shutil.rmtree(out / name / "trainer", ignore_errors=True)
    reference = {
        "dataset": f"{dataset}.jsonl",
        "adapter_init": "adapter_init" if lora else None,
        "config": {**keys, "micro_batch_size": BATCH, "gradient_accumulation_steps": accumulation, "max_steps": STEPS, "learning_rate": LR, "lr_scheduler": "constant",
                   "optimizer": "adamw_torch", "max_grad_norm": 1.0, "weight_decay": 0.0, "shuffle": False},
        "trl": {"trainer": trainer_kind, **{k: v for k, v in extra.items()}},
        "steps": steps,
        "first_batch": trainer.first_batch,
    }
    if evaluate:
        reference["test_dataset"] = f"eval_{dataset}.jsonl"
        reference["config"]["eval_steps"] = EVAL_STEPS
        reference["evals"] = evals
    (out / name).mkdir(parents=True, exist_ok=True)
    (out / name / "reference.json").write_text(json.dumps(reference, indent=1))


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    datasets = write_datasets(out)
    datasets.update(write_datasets(out, EVAL_QUESTIONS, "eval_"))
    folder = make_model(out)
    max_length = 64
    run_case(out, folder, datasets, "dpo_lora", "dpo", "conversational", {"rl": "dpo", "dpo_beta": 0.1, "max_length": max_length},
             lora=True, evaluate=True, beta=0.1, loss_type=["sigmoid"], max_length=max_length)
    run_case(out, folder, datasets, "ipo_lora", "dpo", "text", {"rl": "ipo", "dpo_beta": 0.5, "max_length": max_length},
             lora=True, beta=0.5, loss_type=["ipo"], max_length=max_length)
    run_case(out, folder, datasets, "robust_lora_truncated", "dpo", "conversational",
             {"rl": "dpo", "dpo_loss_type": "robust", "dpo_beta": 0.2, "dpo_label_smoothing": 0.1, "max_length": 28},
             lora=True, beta=0.2, loss_type=["robust"], label_smoothing=0.1, max_length=28)
    run_case(out, folder, datasets, "dpo_full", "dpo", "implicit",
             {"rl": "dpo", "dpo_beta": 0.1, "precompute_ref_log_probs": True, "max_length": max_length},
             lora=False, evaluate=True, beta=0.1, loss_type=["sigmoid"], precompute_ref_log_probs=True, max_length=max_length)
    run_case(out, folder, datasets, "dpo_lora_accumulated", "dpo", "conversational", {"rl": "dpo", "dpo_beta": 0.1, "max_length": max_length},
             lora=True, accumulation=2, beta=0.1, loss_type=["sigmoid"], max_length=max_length)
    run_case(out, folder, datasets, "orpo_lora", "orpo", "conversational", {"rl": "orpo", "orpo_alpha": 0.2, "max_length": max_length},
             lora=True, evaluate=True, beta=0.2, max_length=max_length)
    run_case(out, folder, datasets, "simpo_lora", "cpo", "text",
             {"rl": "simpo", "dpo_beta": 2.0, "simpo_gamma": 0.5, "cpo_alpha": 0.5, "max_length": max_length},
             lora=True, evaluate=True, loss_type="simpo", beta=2.0, simpo_gamma=0.5, cpo_alpha=0.5, max_length=max_length)


if __name__ == "__main__":
    main()
