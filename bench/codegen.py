"""Stage-2 scoring throughput on HumanEval+ tasks against the reference's approach, same run.

Run: ``python bench/codegen.py`` (``--json`` for machine output). Completions are the
canonical solutions (all tests pass) and broken ones (they return None), half each. The
reference approach (PRIME's ``compute_score`` as the reference uses it) runs all of a
completion's tests in one fresh interpreter, and when any fails, the first ten one per
interpreter; it runs on 2 threads here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import stepreward as sr
from stepreward.codegen import code_reward, code_reward_many
from stepreward.eval import canonical_code, load_humaneval_plus
from stepreward.types import CodeTask, TestCase
from stepreward.values import render_literal

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "humanevalplus"


def _assert_line(t: TestCase) -> str:
    args = render_literal(t.args)
    call = f"{t.fn_name}(*{args})"
    if t.compare == "truthy":
        return f"assert {call}"
    if t.compare == "falsy":
        return f"assert not {call}"
    expected = render_literal(t.expected)
    if t.atol:
        return f"assert abs({call} - {expected}) <= {t.atol}"
    return f"assert {call} == {expected}"


def base_interpreter() -> str | None:
    """The interpreter this venv was made from, with its own site-packages (closer to a
    training environment, where starting ``python`` pays for importing site)."""
    exe = os.path.join(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    return exe if sys.base_prefix != sys.prefix and os.path.exists(exe) else None


def reference_reward(code: str, task: CodeTask, exe: str = sys.executable) -> float:
    calls = [t for t in task.tests if t.kind == "call"]

    def run(lines: list[str], timeout: float) -> bool:
        program = "import math\n" + code + "\n" + "\n".join(lines)
        try:
            # Through stdin rather than -c: some programs exceed the argument-size limit.
            r = subprocess.run([exe, "-"], input=program.encode(),
                               capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    if run([_assert_line(t) for t in calls], 6.0):
        return 1.0
    first = calls[:10]
    return sum(run([_assert_line(t)], 1.0) for t in first) / max(1, len(first))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tasks", type=int, default=80)
    ap.add_argument("--plus", type=int, default=40, help="extra inputs per task")
    args = ap.parse_args()
    path = DATA / "HumanEvalPlus.jsonl.gz"
    if not path.exists():
        sys.exit(f"HumanEval+ data not found at {path}")
    with sr.Sandbox(workers=2) as sb:
        tasks = [t for t in load_humaneval_plus(path, max_plus=args.plus, sandbox=sb)
                 if all(c.kind == "call" for c in t.tests)][: args.tasks]
        completions = []
        for i, t in enumerate(tasks):
            code = canonical_code(t) if i % 2 == 0 else (
                f"def {t.entry_point}(*args, **kwargs):\n    return None\n")
            completions.append((t, code))
        tests_total = sum(len(t.tests) for t, _ in completions)
        code_reward(f"<answer>\n```python\n{completions[0][1]}\n```\n</answer>",
                    completions[0][0], sandbox=sb)  # warm up
        t0 = time.perf_counter()
        scores = code_reward_many(
            [f"<answer>\n```python\n{code}\n```\n</answer>" for _, code in completions],
            [t for t, _ in completions], sandbox=sb)
        rewards = [s.reward for s in scores]
        ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        ref = list(pool.map(lambda tc: reference_reward(tc[1], tc[0]), completions))
    theirs = time.perf_counter() - t0
    base = base_interpreter()
    theirs_base = None
    if base:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda tc: reference_reward(tc[1], tc[0], base), completions))
        theirs_base = time.perf_counter() - t0
    agree = sum((a == 1.0) == (b == 1.0) for a, b in zip(rewards, ref, strict=True))
    out = {
        "completions": len(completions), "tests": tests_total,
        "stepreward_completions_per_s": len(completions) / ours,
        "stepreward_tests_per_s": tests_total / ours,
        "reference_completions_per_s": len(completions) / theirs,
        "ratio": theirs / ours, "all_pass_agreement": agree / len(completions),
        "reference_base_interpreter_completions_per_s":
            len(completions) / theirs_base if theirs_base else None,
        "ratio_vs_base_interpreter": theirs_base / ours if theirs_base else None,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {len(completions)} "
          f"HumanEval+ completions (half correct), {tests_total} tests\n")
    print(f"{'method':52s} {'completions/s':>14s} {'tests/s':>10s}")
    print(f"{'stepreward code_reward_many (sandbox, 2 workers)':52s} "
          f"{out['stepreward_completions_per_s']:14.1f} {out['stepreward_tests_per_s']:10.0f}")
    print(f"{'reference approach (python -c per run, 2 threads)':52s} "
          f"{out['reference_completions_per_s']:14.1f} {'':>10s}")
    if theirs_base:
        print(f"{'reference approach, base interpreter with its site':52s} "
              f"{len(completions) / theirs_base:14.1f}")
    print(f"\nstepreward is {out['ratio']:.1f}x the reference approach with the bench venv's "
          "interpreter" + (f", {out['ratio_vs_base_interpreter']:.1f}x with the base "
                           "interpreter" if theirs_base else "")
          + f"; they agree on all-pass for {agree}/{len(completions)} completions")


if __name__ == "__main__":
    main()
