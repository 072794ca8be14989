"""Scoring throughput: stepreward's literal policy against the reference approach, same run.

Run: ``python bench/score.py`` (``--json`` for machine output). Stage-1 samples from CRUXEval
(one output question plus up to ten step questions); completions are the gold answers and
answers with about 40% of the lines wrong. The reference approach runs the assertion with
``subprocess.run([python, "-c", code], timeout=0.5)`` per completion, as its reward file does,
then compares the step answers as strings; it runs on 2 threads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import stepreward as sr

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"


def build(n_programs: int) -> tuple[list[str], list[dict[str, object]], list[sr.Sample]]:
    if not DATA.exists():
        sys.exit(f"CRUXEval data not found at {DATA}")
    rows = [json.loads(line) for line in DATA.read_text().splitlines()][:n_programs]
    samples = [s for s in sr.build_samples(
        [(r["code"], f"f({r['input']})") for r in rows],
        kinds=("output", "next_statement", "state"), max_per_kind=5) if s is not None]
    rng = random.Random(0)
    completions, targets = [], []
    for s in samples:
        gold = s.gold_answers()
        for _ in range(4):  # a GRPO group: several completions per prompt
            answers = [a if rng.random() < 0.6 else "[0]; list" for a in gold]
            completions.append("<reasoning>step by step...</reasoning>\n" + s.answer_text(answers))
            targets.append(s)
    return completions, [t.to_row() for t in targets], targets


def reference_reward(completion: str, sample: sr.Sample) -> float:
    """The reference's approach: one ``python -c`` per completion for the assertion."""
    if "<answer>" not in completion or "</answer>" not in completion:
        return 0.0
    ans = completion.rsplit("<answer>", maxsplit=1)[-1].split("</answer>", maxsplit=1)[0].strip()
    lines = ans.split("\n")
    first, rest = lines[0].strip(), lines[1:]
    code = f"\n{sample.source}\n\n{first}\n"
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=0.5,
                           check=False)
    except subprocess.TimeoutExpired:
        return 0.0
    if r.returncode != 0:
        return 0.0
    steps = sample.questions[1:]
    if len(rest) != len(steps) or not steps:
        return 1.0
    correct = sum(a.strip() == q.gold_text.strip() for a, q in zip(rest, steps, strict=True))
    return 1.0 + correct / len(steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--programs", type=int, default=400)
    args = ap.parse_args()
    completions, rows, samples = build(args.programs)
    n = len(completions)
    for c, r in zip(completions, rows, strict=True):  # warm up: sample cache, regex caches
        sr.score(c, r)
    t0 = time.perf_counter()
    total = 0.0
    for c, r in zip(completions, rows, strict=True):
        total += sr.score(c, r).reward
    literal_rate = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for c, s in zip(completions, samples, strict=True):
        sr.score(c, s)
    object_rate = n / (time.perf_counter() - t0)
    ref_n = min(n, 300)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(reference_reward, completions[:ref_n], samples[:ref_n]))
    ref_rate = ref_n / (time.perf_counter() - t0)
    questions = sum(len(s.questions) for s in samples) / n
    out = {
        "completions": n,
        "questions_per_completion": questions,
        "literal_rows_per_s": literal_rate,
        "literal_sample_objects_per_s": object_rate,
        "reference_python_c_2_threads_per_s": ref_rate,
        "ratio_vs_reference": literal_rate / ref_rate,
        "mean_reward": total / n,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {n} completions, "
          f"{questions:.1f} questions each (stage-1 samples from CRUXEval)\n")
    print(f"{'method':58s} {'completions/s':>14s} {'vs reference':>13s}")
    print(f"{'stepreward score(), literal policy, dataset rows, 1 thread':58s} "
          f"{literal_rate:14.0f} {literal_rate / ref_rate:12.0f}x")
    print(f"{'stepreward score(), literal policy, Sample objects':58s} "
          f"{object_rate:14.0f} {object_rate / ref_rate:12.0f}x")
    print(f"{'reference approach (python -c per completion), 2 threads':58s} "
          f"{ref_rate:14.1f} {1.0:12.0f}x")


if __name__ == "__main__":
    main()
