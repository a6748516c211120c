# Writes train.jsonl: the demo's pretokenized dataset for resources/demo-model (vocabulary 512, no
# tokenizer). Each row walks a cycle of 32 token ids (100..131) from a random start: the tiny model first
# learns which 32 tokens occur (loss from ln 512 ≈ 6.2 towards ln 32 ≈ 3.5), then their order, so the
# loss visibly falls within minutes on a CPU. Run: python3 make_demo_data.py
import json
import random

rng = random.Random(0)
with open("train.jsonl", "w") as out:
    for _ in range(256):
        start = rng.randrange(32)
        ids = [100 + (start + i) % 32 for i in range(48)]
        out.write(json.dumps({"input_ids": ids}) + "\n")
