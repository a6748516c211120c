"""Parquet dataset files written by pyarrow itself, with the rows pyarrow reads back from them
(Table.to_pylist()), for Lathe's Parquet reader (core/data/parquet_reader.cpp) to match.

OUT_DIR gets alpaca.parquet (several row groups, null inputs), chat.parquet (messages as
list<struct<role, content>>, a struct column), pretokenized.parquet (list<int64> token ids, empty and
null lists), types.parquet (every scalar type Lathe reads, nested lists, a dictionary column, a
fixed-size list), unsupported.parquet (a timestamp column) and expected.json: {"alpaca": [...], ...}.

usage: make_parquet_references.py OUT_DIR
"""
import datetime
import json
import random
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = random.Random(0)
words = ["plain", "with, comma", 'with "quotes"', "line\nbreak", "tab\there", "", "caf\u00e9 \u4e2d\u6587 \U0001F600", "back\\slash"]

alpaca = pa.table({
    "instruction": [rng.choice(words) + f" #{i}" for i in range(50)],
    "input": [None if i % 3 == 0 else rng.choice(words) for i in range(50)],
    "output": [rng.choice(words) for i in range(50)],
})
pq.write_table(alpaca, out / "alpaca.parquet", row_group_size=7)  # 8 row groups, the last one short

roles = ["system", "user", "assistant"]
chat = pa.table({
    "id": pa.array(range(20), pa.int64()),
    "messages": pa.array(
        [[{"role": roles[(k + (i > 0)) % 3], "content": rng.choice(words)} for k in range(i % 5)] for i in range(20)],
        pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    "meta": pa.array(
        [None if i == 4 else {"source": rng.choice(words), "score": i / 4, "keep": i % 2 == 0} for i in range(20)],
        pa.struct([("source", pa.string()), ("score", pa.float32()), ("keep", pa.bool_())])),
})
pq.write_table(chat, out / "chat.parquet", row_group_size=6)

ids = [[rng.randrange(0, 50000) for _ in range(rng.randrange(0, 40))] for _ in range(30)]
pretokenized = pa.table({
    "input_ids": pa.array([None if i == 7 else x for i, x in enumerate(ids)], pa.list_(pa.int64())),
    "labels": pa.array([[-100 if k < 3 else t for k, t in enumerate(x)] for x in ids], pa.large_list(pa.int32())),
    "attention_mask": pa.array([[1] * len(x) for x in ids], pa.list_(pa.int8())),
})
pq.write_table(pretokenized, out / "pretokenized.parquet", row_group_size=10)

n = 9
types = pa.table({
    "i8": pa.array([-128, 0, 127, None, 1, 2, 3, 4, 5], pa.int8()),
    "i16": pa.array([-32768, 32767, 0, 1, None, 2, 3, 4, 5], pa.int16()),
    "i32": pa.array([-(2**31), 2**31 - 1, 0, 1, 2, None, 3, 4, 5], pa.int32()),
    "i64": pa.array([-(2**63), 2**63 - 1, 0, 1, 2, 3, None, 4, 5], pa.int64()),
    "u8": pa.array([255, 0, 1, 2, 3, 4, 5, None, 6], pa.uint8()),
    "u16": pa.array([65535, 0, 1, 2, 3, 4, 5, 6, None], pa.uint16()),
    "u32": pa.array([2**32 - 1, 0, 1, 2, 3, 4, 5, 6, 7], pa.uint32()),
    "u64": pa.array([2**64 - 1, 2**63, 0, 1, 2, 3, 4, 5, None], pa.uint64()),
    "f32": pa.array([0.1, -2.5, 1e30, 3.4028234663852886e38, None, 0.0, -0.0, 1e-40, 7.25], pa.float32()),
    "f64": pa.array([0.1, -2.5, 1e300, 5e-324, None, 1 / 3, -0.0, 2**53 + 1.0, 123456.789], pa.float64()),
    "flag": pa.array([True, False, None, True, False, True, True, False, None], pa.bool_()),
    "nothing": pa.nulls(n),
    "large_text": pa.array([rng.choice(words) for _ in range(n)], pa.large_string()),
    "category": pa.array([rng.choice(["pos", "neg", None]) for _ in range(n)], pa.string()).dictionary_encode(),
    "nested": pa.array([[[1, 2], [], None], None, [[3]], [], [[4, 5, 6]], [[7]], [None], [[8]], [[9]]], pa.list_(pa.list_(pa.int64()))),
    "pair": pa.array([[i, i + 0.5] for i in range(n)], pa.list_(pa.float64(), 2)),
    "tags": pa.array([[rng.choice(words), None] if i % 2 else [] for i in range(n)], pa.list_(pa.string())),
})
pq.write_table(types, out / "types.parquet", row_group_size=4)

unsupported = pa.table({
    "text": ["a", "b"],
    "meta": pa.array([{"when": datetime.datetime(2024, 1, 1)}, None], pa.struct([("when", pa.timestamp("us"))])),
})
pq.write_table(unsupported, out / "unsupported.parquet")

expected = {name: pq.read_table(out / f"{name}.parquet").to_pylist() for name in ["alpaca", "chat", "pretokenized", "types"]}
(out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False), encoding="utf-8")
