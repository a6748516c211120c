"""Token ids llama.cpp's tokenizer gives (through llama-cpp-python, vocab only).

usage: llama_cpp_tokenize.py MODEL.gguf TEXTS.json OUT.json
  TEXTS.json: a list of strings; OUT.json: a list of id lists (no BOS, special tokens parsed as text).
"""
import json
import sys

from llama_cpp import Llama


def main(model, texts_path, out_path):
    llm = Llama(model_path=model, vocab_only=True, verbose=False)
    with open(texts_path) as f:
        texts = json.load(f)
    out = [llm.tokenize(t.encode("utf-8"), add_bos=False, special=True) for t in texts]
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
