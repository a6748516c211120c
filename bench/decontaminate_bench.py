#!/usr/bin/env python3
"""Throughput and memory of `lathe data decontaminate` (figures in docs/performance.md).

Writes synthetic training sets of alpaca / chat / text JSONL rows (SIZES megabytes each) and an eval
set of 1,000 items, some planted in the training rows, then runs
`lathe data decontaminate TRAIN --against EVAL --json --write-clean OUT` under /usr/bin/time and
prints MB/s (the command's own figure: reading, matching and writing) and the peak resident memory.
Memory that stays the same from the small to the large file is what "flat" means.

    python3 bench/decontaminate_bench.py build/app/lathe [--sizes 100,400] [--dir /tmp/lathe-decon-bench]
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys


def prose(rng, vocab, n):
    words = [rng.choice(vocab) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(w + ("," if rng.random() < 0.08 else "") for w in words) + "."


def row(rng, vocab, kind, text):
    if kind == 0:
        return {"instruction": prose(rng, vocab, 12), "input": "", "output": text}
    if kind == 1:
        return {"messages": [{"role": "user", "content": prose(rng, vocab, 10)}, {"role": "assistant", "content": text}]}
    return {"text": text}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lathe")
    ap.add_argument("--sizes", default="100,400", help="training file sizes in MB")
    ap.add_argument("--dir", default="/tmp/lathe-decon-bench")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    rng = random.Random(0)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    items = [prose(rng, vocab, rng.randint(30, 80)) for _ in range(1000)]
    eval_path = os.path.join(args.dir, "eval.jsonl")
    with open(eval_path, "w") as f:
        for it in items:
            f.write(json.dumps({"question": it}) + "\n")
    for size_mb in [int(s) for s in args.sizes.split(",")]:
        train = os.path.join(args.dir, f"train-{size_mb}mb.jsonl")
        if not os.path.exists(train) or os.path.getsize(train) < size_mb * 1e6:
            with open(train, "w") as f:
                written, line = 0, 0
                while written < size_mb * 1e6:
                    line += 1
                    text = prose(rng, vocab, rng.randint(40, 200))
                    if line % 5000 == 0:
                        text += " " + items[line // 5000 % len(items)]
                    s = json.dumps(row(rng, vocab, line % 3, text)) + "\n"
                    f.write(s)
                    written += len(s)
        out = os.path.join(args.dir, f"clean-{size_mb}mb.jsonl")
        cmd = ["/usr/bin/time", "-v", args.lathe, "data", "decontaminate", train, "--against", eval_path, "--json", "--write-clean", out]
        p = subprocess.run(cmd, capture_output=True, text=True, check=True)
        result = json.loads(p.stdout.strip().splitlines()[-1])
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
        wall = re.search(r"Elapsed \(wall clock\) time .*: (\S+)", p.stderr).group(1)
        cpu = sum(float(re.search(rf"{k} time \(seconds\): (\S+)", p.stderr).group(1)) for k in ("User", "System"))
        mb = result["bytes"] / 1e6
        print(f"{size_mb} MB: {result['rows']} rows, {result['contaminated_rows']} contaminated; "
              f"{result['mb_per_s']:.1f} MB/s wall ({result['seconds']:.2f} s scanning, {wall} for the whole command), "
              f"{mb / cpu:.1f} MB per CPU-second of the whole command ({cpu:.2f} s user + system), peak RSS {rss_kb / 1024:.1f} MiB")
        os.remove(out)


if __name__ == "__main__":
    sys.exit(main())
