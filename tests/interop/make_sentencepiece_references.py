"""Trains small SentencePiece models (BPE and Unigram, with byte fallback) with the `sentencepiece`
Python package and records how it encodes and decodes a set of strings, for models that ship
tokenizer.model instead of tokenizer.json. Lathe's tests load each folder and compare.

usage: make_sentencepiece_references.py OUT_DIR
"""
import io
import json
import random
import sys
from pathlib import Path

import sentencepiece as spm

WORDS = ("the quick brown fox jumps over a lazy dog while seven wizards quietly hex jolly "
         "boxing frogs near the river bank and eleven engineers tune language models on GPUs").split()
EXTRA = ["naïve café", "Grüße aus Köln", "東京は晴れ", "Привет, мир", "1234 5678", "tab\tseparated", "emoji 🙂 ok"]

TEXTS = [
    "Hello world",
    "  leading and trailing spaces  ",
    "the quick brown fox",
    "Unseen wordsxyz and CAPITALS",
    "naïve café — Grüße",
    "東京 and Привет",
    "emoji 🙂🚀 text",
    "numbers 3.14159 and 42",
    "new\nlines\n\nhere",
    "",
]


def corpus(n=3000, seed=0):
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]
        if rng.random() < 0.2:
            words.append(rng.choice(EXTRA))
        lines.append(" ".join(words))
    return lines


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    for model_type in ("bpe", "unigram"):
        folder = out / f"spm-{model_type}"
        folder.mkdir(exist_ok=True)
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus()), model_writer=model, vocab_size=360,
                                       model_type=model_type, byte_fallback=True, character_coverage=1.0,
                                       num_threads=1, minloglevel=2)
        (folder / "tokenizer.model").write_bytes(model.getvalue())
        sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
        refs = []
        for text in TEXTS:
            ids = sp.encode(text)
            refs.append({"text": text, "ids": ids, "decoded": sp.decode(ids)})
        (folder / "reference.json").write_text(json.dumps(refs, ensure_ascii=False, indent=1))
        (folder / "tokenizer_config.json").write_text(json.dumps(
            {"bos_token": sp.id_to_piece(sp.bos_id()), "eos_token": sp.id_to_piece(sp.eos_id()),
             "unk_token": sp.id_to_piece(sp.unk_id()), "add_bos_token": True, "add_eos_token": False}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
