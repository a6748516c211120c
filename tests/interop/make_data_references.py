"""Dataset files written by Python's own csv, json and gzip modules, with the rows Python reads back from
them, for Lathe's readers (core/data/*_reader.cpp) to match.

OUT_DIR gets rows.csv, rows.tsv, rows.json (an array), rows_object.json ({"data": [...]}), rows.jsonl,
rows.jsonl.gz, rows.csv.gz and expected.json: {"csv": [...], "tsv": [...], "json": [...]} as
csv.DictReader and json.load return them.

usage: make_data_references.py OUT_DIR
"""
import csv
import gzip
import json
import random
import sys
from pathlib import Path

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)

tricky = ["plain", "with, comma", 'with "quotes"', "line\nbreak", "crlf\r\nbreak", "tab\there", "  spaces  ", "",
          "caf\u00e9 \u4e2d\u6587 \U0001F600", "trailing quote\"", "\"leading quote", "semi;colon", "back\\slash", "'single'"]
rng = random.Random(0)
rows = []
for i in range(60):
    rows.append({"instruction": rng.choice(tricky) + f" #{i}", "input": rng.choice(tricky), "output": rng.choice(tricky)})

fields = ["instruction", "input", "output"]
with open(out / "rows.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.DictWriter(f, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
with open(out / "rows.tsv", "w", newline="", encoding="utf-8") as f:
    w = csv.DictWriter(f, fieldnames=fields, dialect="excel-tab")
    w.writeheader()
    w.writerows(rows)
(out / "rows.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
(out / "rows_object.json").write_text(json.dumps({"version": "1", "data": rows}, indent=1), encoding="utf-8")
jsonl = "".join(json.dumps(r) + "\n" for r in rows)
(out / "rows.jsonl").write_text(jsonl, encoding="utf-8")
with gzip.open(out / "rows.jsonl.gz", "wt", encoding="utf-8") as f:
    f.write(jsonl)
with gzip.open(out / "rows.csv.gz", "wb") as f:
    f.write((out / "rows.csv").read_bytes())

with open(out / "rows.csv", newline="", encoding="utf-8") as f:
    csv_rows = list(csv.DictReader(f))
with open(out / "rows.tsv", newline="", encoding="utf-8") as f:
    tsv_rows = list(csv.DictReader(f, dialect="excel-tab"))
json_rows = json.loads((out / "rows.json").read_text(encoding="utf-8"))
(out / "expected.json").write_text(json.dumps({"csv": csv_rows, "tsv": tsv_rows, "json": json_rows}), encoding="utf-8")
