"""Runs lm-evaluation-harness (the `hf` backend, CPU, float32) on local task YAMLs and writes what it
computed as one JSON file for tests/test_eval.cpp:

  {"results": {task: {"acc,none": ..., ...}}, "n-samples": {...},
   "samples": {task: [{"doc_id", "arguments": [[context, continuation], ...] | [text] | [context],
                       "loglikelihoods": [...], "is_greedy": [...] | "loglikelihood" | "generation",
                       "filtered": {filter: response}, "metrics": {"acc,none": ...}}]}}

usage: lm_eval_references.py MODEL_DIR TASKS_DIR TASK[,TASK...] OUT.json [--limit N] [--num_fewshot K]
Runs `python -m lm_eval ... --log_samples --output_path` offline and reads back its files."""
import glob
import json
import os
import subprocess
import sys
import tempfile


def main():
    model, tasks_dir, tasks, out = sys.argv[1:5]
    extra = sys.argv[5:]
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               DISABLE_MULTIPROC="1", TOKENIZERS_PARALLELISM="false")
    with tempfile.TemporaryDirectory() as tmp:
        env["HF_DATASETS_CACHE"] = os.path.join(tmp, "datasets")
        cmd = [sys.executable, "-m", "lm_eval", "--model", "hf",
               "--model_args", f"pretrained={model},dtype=float32", "--include_path", tasks_dir,
               "--tasks", tasks, "--device", "cpu", "--batch_size", "4",
               "--log_samples", "--output_path", os.path.join(tmp, "out")] + extra
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.stderr.write(run.stdout[-4000:] + run.stderr[-8000:])
            sys.exit(run.returncode)
        [results_file] = glob.glob(os.path.join(tmp, "out", "*", "results_*.json"))
        results = json.load(open(results_file))
        report = {"results": results["results"], "n-samples": results["n-samples"],
                  "num_fewshot": results.get("n-shot", {}), "samples": {}}
        for task in results["results"]:
            [samples_file] = glob.glob(os.path.join(tmp, "out", "*", f"samples_{task}_*.jsonl"))
            docs = {}
            for line in open(samples_file):
                s = json.loads(line)
                d = docs.setdefault(s["doc_id"], {"doc_id": s["doc_id"], "filtered": {}, "metrics": {}})
                args = [s["arguments"][k] for k in sorted(s["arguments"], key=lambda k: int(k.split("_")[-1]))]
                d["arguments"] = [[a["arg_0"], a["arg_1"]] if isinstance(a.get("arg_1"), str) else [a["arg_0"]] for a in args]
                resps = s["resps"]
                output_type = results["configs"][task]["output_type"]
                if output_type in ("multiple_choice", "loglikelihood"):  # [[ll, is_greedy]] per request
                    d["loglikelihoods"] = [float(r[0][0]) for r in resps]
                    d["is_greedy"] = [r[0][1] == "True" for r in resps]
                elif output_type == "loglikelihood_rolling":
                    d["loglikelihood"] = float(resps[0][0])
                else:
                    d["generation"] = resps[0][0]
                    d["filtered"][s["filter"]] = s["filtered_resps"][0]
                for m in s["metrics"]:
                    d["metrics"][f"{m},{s['filter']}"] = s[m]
            report["samples"][task] = [docs[k] for k in sorted(docs)]
        json.dump(report, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
