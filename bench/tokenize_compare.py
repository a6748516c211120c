"""Tokenizer throughput, Lathe against Hugging Face `tokenizers` (Rust), on the same text and tokenizer.

Builds a ~4 MB corpus of English prose, source code and non-Latin text from files every Debian/Python
install has, trains a 32k byte-level BPE tokenizer with Qwen2's pre-tokenizer regex on it (once), then
times both libraries: one thread encoding line by line, and batched on all cores.

usage: .venv-interop/bin/python bench/tokenize_compare.py BUILD_DIR [WORK_DIR]
"""
import glob
import json
import os
import random
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers, Regex

QWEN_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def read(paths, limit):
    out, size = [], 0
    for p in paths:
        try:
            text = Path(p).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        out.append(text)
        size += len(text.encode())
        if size > limit:
            break
    return "\n".join(out)


def pseudo_words(rng, alphabet, n):
    return " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9))) for _ in range(n))


def corpus(work: Path) -> Path:
    path = work / "corpus.txt"
    if path.exists():
        return path
    stdlib = sysconfig.get_paths()["stdlib"]
    english = read(sorted(glob.glob("/usr/share/common-licenses/*")) + sorted(glob.glob(stdlib + "/../../share/doc/**/*.txt", recursive=True)), 1_500_000)
    code = read(sorted(glob.glob(stdlib + "/*.py")) + sorted(glob.glob("/usr/include/c++/*/bits/*.h")), 1_500_000)
    cjk = read(sorted(glob.glob(stdlib + "/test/cjkencodings/*-utf8.txt")), 200_000)
    rng = random.Random(0)
    scripts = ["абвгдеёжзийклмнопрстуфхцчшщыэюя", "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशसह",
               "αβγδεζηθικλμνξοπρστυφχψω"]
    others = "\n".join(pseudo_words(rng, s, 40_000) for s in scripts)
    path.write_text("\n".join([english, code, cjk * 4, others]), encoding="utf-8")
    return path


def tokenizer(work: Path, text_path: Path) -> Path:
    path = work / "tokenizer.json"
    if path.exists():
        return path
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=32000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train([str(text_path)], trainer)
    tok.save(str(path))
    return path


def measure(build: Path, tok_path: Path, texts_path: Path, texts, label):
    size = sum(len(t.encode()) for t in texts)
    tok = Tokenizer.from_file(str(tok_path))
    best_single = best_batch = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        n_single = sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts)
        best_single = min(best_single, time.perf_counter() - t0)
        t0 = time.perf_counter()
        n_batch = sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
        best_batch = min(best_batch, time.perf_counter() - t0)

    lathe = json.loads(subprocess.run([str(build / "bench" / "bench_tokenize"), str(tok_path), str(texts_path), "3"],
                                      check=True, capture_output=True, text=True).stdout)
    print(f"\n{label}: {size / 1e6:.2f} MB in {len(texts)} texts")
    print(f"{'':28}{'1 thread':>14}{'batched':>14}{'tokens':>12}")
    print(f"{'HF tokenizers ' + __import__('tokenizers').__version__:28}{size / 1e6 / best_single:>10.2f} MB/s{size / 1e6 / best_batch:>10.2f} MB/s{n_single:>12}")
    print(f"{'Lathe':28}{lathe['single_mb_s']:>10.2f} MB/s{lathe['batch_mb_s']:>10.2f} MB/s{lathe['tokens']:>12}")
    print("same token count" if lathe["tokens"] == n_single == n_batch else "TOKEN COUNTS DIFFER")


def main():
    build = Path(sys.argv[1])
    work = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/lathe-bench-tokenize")
    work.mkdir(parents=True, exist_ok=True)
    text_path = corpus(work)
    tok_path = tokenizer(work, text_path)
    print(f"tokenizer: 32k byte-level BPE with Qwen2's pre-tokenizer regex, trained on the corpus; {os.cpu_count()} cores")
    lines = text_path.read_text(encoding="utf-8").split("\n")
    measure(build, tok_path, text_path, lines, "one text per line (short texts)")
    # The same text as ~64 KB documents: per-call overhead no longer dominates.
    docs, current = [], []
    for line in lines:
        current.append(line)
        if sum(len(l) for l in current) > 64_000:
            docs.append("\n".join(current))
            current = []
    if current:
        docs.append("\n".join(current))
    docs_path = work / "documents.txt"
    docs_path.write_text("\x1e".join(docs), encoding="utf-8")
    measure(build, tok_path, docs_path, docs, "64 KB documents")


if __name__ == "__main__":
    main()
