"""Writes a generated multiple-choice task for timing `lathe eval` against lm-evaluation-harness:
OUT/mc1000.jsonl (N questions, 4 choices each, fixed seed) and OUT/mc1000.yaml (the harness's format).

usage: python3 bench/make_eval_mc_task.py OUT [N]   (N = 1000)"""
import json
import os
import random
import sys

WORDS = ("the cat sat on a mat and looked at birds in the warm sun while dogs ran far away from home "
         "river stone bread window music paper garden winter light green quiet early market friend").split()


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(2026)
    sent = lambda k: " ".join(rnd.choice(WORDS) for _ in range(k))
    data = os.path.abspath(os.path.join(out, "mc1000.jsonl"))
    with open(data, "w") as f:
        for i in range(n):
            doc = {"question": sent(rnd.randint(12, 30)) + "?",
                   "choices": [sent(rnd.randint(1, 6)) for _ in range(4)], "label": rnd.randrange(4)}
            f.write(json.dumps(doc) + "\n")
    with open(os.path.join(out, "mc1000.yaml"), "w") as f:
        f.write(f"task: mc1000\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\n"
                "test_split: test\noutput_type: multiple_choice\n"
                "doc_to_text: \"Question: {{question}}\\nAnswer:\"\ndoc_to_choice: choices\ndoc_to_target: label\n")


if __name__ == "__main__":
    main()
