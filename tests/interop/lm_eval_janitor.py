"""The harness's decontamination n-grams of some texts, for DecontaminateInterop (tests/test_decontaminate_cli.cpp).

Reads a JSON file {"n": N, "texts": [...]} and prints a JSON list: for each text, the n-grams
lm_eval/decontamination/janitor.py makes of it for a lookup, word_ngrams(Janitor().normalize_string(text), n).
janitor.py is loaded by its path so that lm_eval's package __init__ (the whole evaluator) is not imported.
"""
import contextlib
import importlib.util
import json
import os
import sys

import lm_eval

path = os.path.join(list(lm_eval.__spec__.submodule_search_locations)[0], "decontamination", "janitor.py")
spec = importlib.util.spec_from_file_location("lm_eval_janitor", path)
janitor = importlib.util.module_from_spec(spec)
with contextlib.redirect_stdout(sys.stderr):  # its warning about the optional C++ helper goes to stdout
    spec.loader.exec_module(janitor)

with open(sys.argv[1], encoding="utf-8") as f:
    request = json.load(f)
jan = janitor.Janitor(ngram_n=request["n"])
print(json.dumps([list(janitor.word_ngrams(jan.normalize_string(t), request["n"])) for t in request["texts"]], ensure_ascii=False))
