"""Makes the references for Lathe's dataset rendering (core/data/render.cpp) with transformers itself.

For each chat template, a tokenizer folder (the qwen-hf fixture tokenizer plus the template's special
tokens, saved by transformers) and cases whose labels transformers computes:
  * chat rows: apply_chat_template(..., return_assistant_tokens_mask=True) on a copy of the template with
    {% generation %} blocks around each assistant reply and its end-of-turn token (or the reply alone,
    for train_on_eos false). The copy must render byte-identically to the original, which is what Lathe
    renders with; labels = input_ids where the mask is 1, else -100.
  * alpaca and prompt/completion rows: the prompt as Axolotl's AlpacaPrompter writes it; the whole text
    tokenized by the fast tokenizer, a token trained when its character span reaches into the response
    (char_to_token, as transformers' assistant masks do), EOS appended and trained.
  * text rows: tokenizer(text) plus EOS, every token trained.

OUT_DIR/NAME/ holds tokenizer.json, tokenizer_config.json (with the original template), cases.json and,
for chatml, roles_cases.json (the chats with roles_to_train [user, assistant]):
  [{"case", "kind": "chat"|"alpaca"|"prompt_completion"|"text", "messages" | "instruction", "input",
    "output", "system" | "prompt", "completion" | "text", "prompt_template", "train_on_eos",
    "text_rendered", "input_ids", "labels"}]

usage: make_render_references.py OUT_DIR
"""
import json
import shutil
import sys
from pathlib import Path

from tokenizers import AddedToken, Tokenizer
from transformers import PreTrainedTokenizerFast

HERE = Path(__file__).resolve().parent
FIXTURES = (HERE / "../fixtures").resolve()
BASE_TOKENIZER = FIXTURES / "hf/tokenizers/bytelevel-regex-qwen-hf/tokenizer.json"

CHATML = (FIXTURES / "hf/tokenizers/bytelevel-regex-qwen-hf/chat_template.jinja").read_text()
CHATML_GEN = {
    True: "{% for m in messages %}{% if m['role'] == 'assistant' %}{{'<|im_start|>assistant\n'}}{% generation %}{{m['content'] + '<|im_end|>'}}{% endgeneration %}{{'\n'}}"
          "{% else %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n'}}{% endif %}{% endfor %}"
          "{% if add_generation_prompt %}{{'<|im_start|>assistant\n'}}{% endif %}",
    False: "{% for m in messages %}{% if m['role'] == 'assistant' %}{{'<|im_start|>assistant\n'}}{% generation %}{{m['content']}}{% endgeneration %}{{'<|im_end|>\n'}}"
           "{% else %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n'}}{% endif %}{% endfor %}"
           "{% if add_generation_prompt %}{{'<|im_start|>assistant\n'}}{% endif %}",
}

def annotate(template, turn, condition, assistant):
    """Replaces the indented line `    TURN` with the same output plus a {% generation %} block for
    assistant turns. The indentation and the newline are written as expressions because
    lstrip_blocks/trim_blocks would eat them around the block tags."""
    line = "    " + turn + "\n"
    assert line in template
    new = ("{{ '    ' }}{% if " + condition + " %}" + assistant + "{{ '\\n' }}{% else %}" + turn + "{{ '\\n' }}{% endif %}\n")
    return template.replace(line, new)

# Training user turns too (roles_to_train [user, assistant]): every user and assistant reply in a block.
CHATML_GEN_USERS = ("{% for m in messages %}{% if m['role'] in ['user', 'assistant'] %}{{'<|im_start|>' + m['role'] + '\n'}}"
                    "{% generation %}{{m['content'] + '<|im_end|>'}}{% endgeneration %}{{'\n'}}"
                    "{% else %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n'}}{% endif %}{% endfor %}"
                    "{% if add_generation_prompt %}{{'<|im_start|>assistant\n'}}{% endif %}")

LLAMA3 = (FIXTURES / "chat_templates/llama-3-instruct.jinja").read_text()
_LLAMA3_TURN = "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
_LLAMA3_HEAD = "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
LLAMA3_GEN = {
    True: annotate(LLAMA3, _LLAMA3_TURN, "message['role'] == 'assistant'",
                   _LLAMA3_HEAD + "{% generation %}{{ message['content'] | trim + '<|eot_id|>' }}{% endgeneration %}"),
    False: annotate(LLAMA3, _LLAMA3_TURN, "message['role'] == 'assistant'",
                    _LLAMA3_HEAD + "{% generation %}{{ message['content'] | trim }}{% endgeneration %}{{ '<|eot_id|>' }}"),
}

GEMMA = (FIXTURES / "chat_templates/gemma-it.jinja").read_text()
_GEMMA_TURN = "{{ '<start_of_turn>' + role + '\\n' + content | trim + '<end_of_turn>\\n' }}"
_GEMMA_HEAD = "{{ '<start_of_turn>' + role + '\\n' }}"
GEMMA_GEN = {
    True: annotate(GEMMA, _GEMMA_TURN, "role == 'model'",
                   _GEMMA_HEAD + "{% generation %}{{ content | trim + '<end_of_turn>' }}{% endgeneration %}{{ '\\n' }}"),
    False: annotate(GEMMA, _GEMMA_TURN, "role == 'model'",
                    _GEMMA_HEAD + "{% generation %}{{ content | trim }}{% endgeneration %}{{ '<end_of_turn>\\n' }}"),
}

# name: (template, annotated copies, extra special tokens, bos, eos, add_bos_token)
TEMPLATES = {
    "chatml": (CHATML, CHATML_GEN, [], None, "<|im_end|>", None),
    "llama3": (LLAMA3, LLAMA3_GEN, ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
               "<|begin_of_text|>", "<|eot_id|>", True),
    "gemma": (GEMMA, GEMMA_GEN, ["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"], "<bos>", "<eos>", None),
}

# transformers' assistant mask ends at the first token of a span's last character (char_to_token), so a
# reply ending in a character of several byte-level tokens (an emoji) would lose its last bytes there:
# replies here end in characters of one token.
CHATS = [
    [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a colour."},
     {"role": "assistant", "content": "Blue."}, {"role": "user", "content": "Another, in French?"},
     {"role": "assistant", "content": "Rouge, naturellement — et vert."}],
    [{"role": "user", "content": "Say hi twice"}, {"role": "assistant", "content": " hi hi \n"}],
    [{"role": "user", "content": "日本語で？"}, {"role": "assistant", "content": "はい🤗、できます。 Yes."},
     {"role": "user", "content": "ok"}, {"role": "assistant", "content": "x"}],
]

ALPACA = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well, sleep, move."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
    {"instruction": "Summarise.", "input": "A long text\nover lines.", "output": "Short.", "system": "You summarise."},
]

PROMPT_COMPLETION = [{"prompt": "The capital of France is", "completion": " Paris."}, {"prompt": "1, 2, 3,", "completion": " 4, 5"}]

TEXTS = ["Plain text for pretraining. It has two sentences.", "naïve café — 🤗 and numbers 12345"]

ALPACA_WITH_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further context. "
                     "Write a response that appropriately completes the request.")
ALPACA_NO_INPUT = "Below is an instruction that describes a task. Write a response that appropriately completes the request."


def alpaca_prompt(system, instruction, inp):
    """Axolotl's AlpacaPrompter: system_format "{system}\\n\\n", then turn_format or turn_no_input_format."""
    preamble = system or (ALPACA_WITH_INPUT if inp else ALPACA_NO_INPUT)
    if inp:
        return f"{preamble}\n\n### Instruction:\n{instruction}\n\n### Input:\n{inp}\n\n### Response:\n"
    return f"{preamble}\n\n### Instruction:\n{instruction}\n\n### Response:\n"


def make_tokenizer(out, template, specials, bos, eos, add_bos):
    raw = Tokenizer.from_file(str(BASE_TOKENIZER))
    raw.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    out.mkdir(parents=True, exist_ok=True)
    raw.save(str(out / "tokenizer.json"))
    kwargs = {"tokenizer_file": str(out / "tokenizer.json"), "eos_token": eos, "pad_token": "<|endoftext|>"}
    if bos:
        kwargs["bos_token"] = bos
    if add_bos is not None:
        kwargs["add_bos_token"] = add_bos
    tok = PreTrainedTokenizerFast(**kwargs)
    tok.chat_template = template
    tok.save_pretrained(str(out))
    return PreTrainedTokenizerFast.from_pretrained(str(out))


def completion_case(tok, prompt, completion):
    """Labels for prompt + completion: tokens reaching into the completion's characters, then EOS."""
    text = prompt + completion
    enc = tok(text, add_special_tokens=True)
    ids = list(enc["input_ids"])
    labels = [-100] * len(ids)
    first = enc.char_to_token(len(prompt)) if completion else None
    if first is not None:
        for k in range(first, len(ids)):
            labels[k] = ids[k]
    if not ids or ids[-1] != tok.eos_token_id:
        ids.append(tok.eos_token_id)
        labels.append(tok.eos_token_id)
    return text, ids, labels


def main():
    out = Path(sys.argv[1])
    if out.exists():
        shutil.rmtree(out)
    for name, (template, annotated, specials, bos, eos, add_bos) in TEMPLATES.items():
        d = out / name
        tok = make_tokenizer(d, template, specials, bos, eos, add_bos)
        cases = []
        for n, messages in enumerate(CHATS):
            for train_on_eos in (True, False):
                rendered = tok.apply_chat_template(messages, tokenize=False)
                gen = tok.apply_chat_template(messages, tokenize=False, chat_template=annotated[train_on_eos])
                assert gen == rendered, (name, n, gen, rendered)
                r = tok.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                            chat_template=annotated[train_on_eos])
                ids = list(r["input_ids"])
                mask = list(r["assistant_masks"])
                assert sum(mask) > 0, (name, n)
                cases.append({"case": f"chat{n}_eos{int(train_on_eos)}", "kind": "chat", "messages": messages,
                              "train_on_eos": train_on_eos, "text_rendered": rendered, "input_ids": ids,
                              "labels": [i if m else -100 for i, m in zip(ids, mask)]})
        if name == "chatml":  # in a file of their own: cases.json holds the default settings only
            role_cases = []
            for n, messages in enumerate(CHATS):
                rendered = tok.apply_chat_template(messages, tokenize=False)
                assert tok.apply_chat_template(messages, tokenize=False, chat_template=CHATML_GEN_USERS) == rendered
                r = tok.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                            chat_template=CHATML_GEN_USERS)
                ids, mask = list(r["input_ids"]), list(r["assistant_masks"])
                role_cases.append({"case": f"chat{n}_users", "kind": "chat", "messages": messages, "train_on_eos": True,
                              "roles_to_train": ["user", "assistant"], "text_rendered": rendered, "input_ids": ids,
                              "labels": [i if m else -100 for i, m in zip(ids, mask)]})
            (d / "roles_cases.json").write_text(json.dumps(role_cases, ensure_ascii=False, indent=1))
        for n, row in enumerate(ALPACA):
            text, ids, labels = completion_case(tok, alpaca_prompt(row.get("system", ""), row["instruction"], row["input"]), row["output"])
            cases.append({"case": f"alpaca{n}", "kind": "alpaca", **row, "prompt_template": "alpaca", "train_on_eos": True,
                          "text_rendered": text, "input_ids": ids, "labels": labels})
        for n, row in enumerate(PROMPT_COMPLETION):
            text, ids, labels = completion_case(tok, row["prompt"], row["completion"])
            cases.append({"case": f"prompt_completion{n}", "kind": "prompt_completion", **row, "prompt_template": "none",
                          "train_on_eos": True, "text_rendered": text, "input_ids": ids, "labels": labels})
        for n, text in enumerate(TEXTS):
            ids = list(tok(text, add_special_tokens=True)["input_ids"]) + [tok.eos_token_id]
            cases.append({"case": f"text{n}", "kind": "text", "text": text, "train_on_eos": True, "text_rendered": text,
                          "input_ids": ids, "labels": ids})
        (d / "cases.json").write_text(json.dumps(cases, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
