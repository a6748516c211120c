"""Dataset inspection and tokenization, Lathe against Hugging Face `datasets` + `transformers`, on the
same generated JSONL chat file and the same tokenizer and chat template, in one run.

  Lathe:    lathe data inspect FILE --model MODEL --json   (reads, checks, renders every row with the
            chat template, tokenizes, masks labels, counts duplicates and lengths)
  datasets: load_dataset("json", data_files=FILE) then .map(apply_chat_template(tokenize=True),
            batched) with PreTrainedTokenizerFast from the same folder (one process, as Lathe).

Each side runs as its own child process; wall time and the child's peak RSS (wait4) are reported.
The file is generated once (seeded): OpenAI-style conversations of 1-3 user/assistant turns, with an
optional system message, made of English-like words.

usage: .venv-bench/bin/python bench/data_compare.py BUILD_DIR MODEL_DIR WORK_DIR [--size-mb N] [--only lathe|datasets]
       (bash bench/setup_data_bench_venv.sh makes .venv-bench; MODEL_DIR needs tokenizer.json and a
       chat template, e.g. the interop render reference build/tests/interop-refs/render/chatml)
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

WORDS = ("the of and to in is was for on that with as by at from his her are this be or which an had not but "
         "model data train token river stone light green quick table music north paper glass cloud sugar field "
         "horse metal ocean plant smile voice people water number system program question answer because "
         "through between important example government company problem service country family market").split()


def sentence(rng, n):
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + rng.choice([".", ".", "?", "!"])


def text(rng, sentences):
    return " ".join(sentence(rng, rng.randint(6, 18)) for _ in range(sentences))


def generate(path: Path, size_mb: int):
    if path.exists() and path.stat().st_size >= size_mb * 1_000_000:
        return
    rng = random.Random(0)
    written, rows = 0, 0
    with open(path, "w", encoding="utf-8") as f:
        while written < size_mb * 1_000_000:
            messages = []
            if rng.random() < 0.3:
                messages.append({"role": "system", "content": text(rng, 1)})
            for _ in range(rng.randint(1, 3)):
                messages.append({"role": "user", "content": text(rng, rng.randint(1, 4))})
                messages.append({"role": "assistant", "content": text(rng, rng.randint(2, 8))})
            line = json.dumps({"messages": messages}) + "\n"
            f.write(line)
            written += len(line.encode())
            rows += 1
    print(f"generated {path}: {written / 1e6:.0f} MB, {rows} rows", flush=True)


def run_child(cmd, **kw):
    """Runs cmd; returns (wall seconds, CPU seconds (user + system), peak RSS MiB, stdout). CPU time is
    the figure to compare on a shared machine, where wall time depends on the other load."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, **kw)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def line(name, rows, tokens, size, wall, cpu, rss):
    print(f"{name}: {rows} rows, {tokens} tokens; wall {wall:.1f} s, CPU {cpu:.1f} s; "
          f"{rows / cpu:,.0f} rows per CPU-second ({size / cpu / 1e6:.2f} MB/CPU-s); peak RSS {rss:.0f} MiB", flush=True)


HF_CHILD = r"""
import sys, json
from datasets import load_dataset, disable_caching
from transformers import PreTrainedTokenizerFast
path, model, cache = sys.argv[1:4]
tok = PreTrainedTokenizerFast.from_pretrained(model)
ds = load_dataset("json", data_files=path, split="train", cache_dir=cache)
def render(batch):
    out = tok.apply_chat_template(batch["messages"], tokenize=True, return_dict=True)
    return {"input_ids": out["input_ids"], "length": [len(ids) for ids in out["input_ids"]]}
ds = ds.map(render, batched=True, batch_size=1000, remove_columns=["messages"])
tokens = sum(ds["length"])
print(json.dumps({"rows": len(ds), "tokens": tokens}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("model")
    ap.add_argument("work")
    ap.add_argument("--size-mb", type=int, default=1000)
    ap.add_argument("--only", choices=["both", "lathe", "datasets"], default="both")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"chat-{args.size_mb}mb.jsonl"
    generate(data, args.size_mb)
    size = data.stat().st_size

    lathe = Path(args.build) / "app" / "lathe"
    report = None
    if args.only in ("both", "lathe"):
        wall, cpu, rss, out = run_child([str(lathe), "data", "inspect", str(data), "--model", args.model, "--json", "--examples", "0"])
        report = json.loads(out)
        line("lathe data inspect", report["usable_rows"], report["tokens"]["total"], size, wall, cpu, rss)
    if args.only == "lathe":
        return

    cache = work / "hf-cache"
    subprocess.run(["rm", "-rf", str(cache)], check=True)  # a cold run: datasets would reuse its Arrow cache
    env = dict(os.environ, HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    wall, cpu, rss, out = run_child([sys.executable, "-c", HF_CHILD, str(data), args.model, str(cache)], env=env)
    hf = json.loads(out.decode().strip().splitlines()[-1])
    line("datasets load_dataset+map", hf["rows"], hf["tokens"], size, wall, cpu, rss)
    if report is None:
        return
    same = hf["tokens"] == report["tokens"]["total"] and hf["rows"] == report["usable_rows"]
    print("same rows and tokens on both sides" if same else "ROWS OR TOKENS DIFFER", flush=True)


if __name__ == "__main__":
    main()
