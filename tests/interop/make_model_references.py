"""Makes reference models with transformers for configurations tests/fixtures does not cover
(RoPE scaling types, sliding windows, biases, partial rotary), the way the fixtures were made: random
weights, save_pretrained, float32 eager forward. Lathe's tests load each folder and compare logits.

usage: make_model_references.py OUT_DIR
"""
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

SMALL = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
             rms_norm_eps=1e-5, tie_word_embeddings=False)

CASES = {
    "llama-linear": ("llama", dict(rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0})),
    "llama-dynamic": ("llama", dict(rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0})),
    "llama-yarn": ("llama", dict(max_position_embeddings=64,
                                 rope_parameters={"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0,
                                                  "original_max_position_embeddings": 16})),
    "qwen2-yarn": ("qwen2", dict(rope_parameters={"rope_type": "yarn", "factor": 4.0, "rope_theta": 1000000.0,
                                                  "beta_fast": 16.0, "beta_slow": 2.0})),
    "llama-bias": ("llama", dict(attention_bias=True, mlp_bias=True,
                                 rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "mistral-sliding": ("mistral", dict(sliding_window=8,
                                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "phi3-partial": ("phi3", dict(rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                   "partial_rotary_factor": 0.5}, pad_token_id=0)),
    "gpt2-inverse-layer": ("gpt2", dict(n_embd=64, n_layer=3, n_head=4, n_positions=64, vocab_size=256,
                                        scale_attn_by_inverse_layer_idx=True)),
}

SEQ = 48  # longer than max_position_embeddings (32): dynamic scaling kicks in, windows slide


def main(out: Path):
    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    for name, (model_type, extra) in CASES.items():
        kwargs = {} if model_type == "gpt2" else dict(SMALL)
        kwargs.update(extra)
        config = AutoConfig.for_model(model_type, **kwargs)
        config._attn_implementation = "eager"
        model = AutoModelForCausalLM.from_config(config).eval()
        with torch.no_grad():
            for p in model.parameters():  # non-trivial norms and biases, as the fixtures
                if p.dim() == 1:
                    p.add_(torch.randn_like(p) * 0.1)
        folder = out / name
        model.save_pretrained(folder)
        ids = torch.randint(0, config.vocab_size, (2, SEQ))
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        from safetensors.torch import save_file
        save_file({"input_ids": ids, "logits": logits.float().contiguous()}, str(folder / "reference.safetensors"))
    adapter_with_modules_to_save(out)
    (out / "VERSION").write_text(f"transformers {transformers.__version__}, torch {torch.__version__}\n")


def adapter_with_modules_to_save(out: Path):
    """A PEFT LoRA adapter on the llama fixture that also trains lm_head fully (modules_to_save),
    with the logits peft computes for it."""
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file
    base_dir = Path(__file__).resolve().parents[1] / "fixtures" / "hf" / "models" / "llama"
    base = AutoModelForCausalLM.from_pretrained(base_dir, attn_implementation="eager").eval()
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            modules_to_save=["lm_head"], init_lora_weights=False))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "modules_to_save" in name:
                p.add_(torch.randn_like(p) * 0.05)  # the saved copy differs from the base's lm_head
    folder = out / "llama-lora-modules-to-save"
    model.save_pretrained(folder)
    ids = torch.randint(0, base.config.vocab_size, (2, 12))
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_file({"input_ids": ids, "logits": logits.float().contiguous()}, str(folder / "reference.safetensors"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
