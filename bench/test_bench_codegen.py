"""Stage-2 scoring on HumanEval+ tasks against the reference's approach, same session.

Completions are the canonical solutions (all tests pass) and broken ones (they return None),
alternating. The reference approach (PRIME's ``compute_score`` as the reference uses it) runs
all of a completion's tests in one fresh interpreter and, when any fails, the first ten one
per interpreter; it runs on 2 threads, with this venv's interpreter (fast start-up) and with
the base interpreter and its site-packages (a training environment's start-up cost).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import stepreward as sr
from conftest import Measure, Registry, base_interpreter
from stepreward.codegen import code_reward_many
from stepreward.eval import canonical_code, load_humaneval_plus
from stepreward.types import CodeTask, TestCase
from stepreward.values import render_literal

GROUP = "codegen: HumanEval+ completions (half correct), check tests + 40 plus inputs"
OURS = "code_reward_many (sandbox, 2 workers)"
REF_VENV = "reference approach, venv interpreter, 2 threads"
REF_BASE = "reference approach, base interpreter + its site, 2 threads"
TASKS = 80
REFERENCE_N = 40  # completions per reference round (alternating correct and broken)

Batch = list[tuple[CodeTask, str]]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[sr.Sandbox]:
    with sr.Sandbox(workers=2) as sb:
        yield sb


@pytest.fixture(scope="module")
def batch(data: Path, sandbox: sr.Sandbox) -> Batch:
    tasks = [t for t in load_humaneval_plus(data / "humanevalplus" / "HumanEvalPlus.jsonl.gz",
                                            max_plus=40, limit=TASKS + 20, sandbox=sandbox)
             if all(c.kind == "call" for c in t.tests)][:TASKS]
    return [(t, canonical_code(t) if i % 2 == 0 else
             f"def {t.entry_point}(*args, **kwargs):\n    return None\n")
            for i, t in enumerate(tasks)]


def _assert_line(t: TestCase) -> str:
    call = f"{t.fn_name}(*{render_literal(t.args)})"
    if t.compare == "truthy":
        return f"assert {call}"
    if t.compare == "falsy":
        return f"assert not {call}"
    expected = render_literal(t.expected)
    if t.atol:
        return f"assert abs({call} - {expected}) <= {t.atol}"
    return f"assert {call} == {expected}"


def reference_reward(code: str, task: CodeTask, exe: str) -> float:
    calls = [t for t in task.tests if t.kind == "call"]

    def run(lines: list[str], timeout: float) -> bool:
        program = "import math\n" + code + "\n" + "\n".join(lines)
        try:
            # Through stdin rather than -c: some programs exceed the argument-size limit.
            r = subprocess.run([exe, "-"], input=program.encode(), capture_output=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    if run([_assert_line(t) for t in calls], 6.0):
        return 1.0
    first = calls[:10]
    return sum(run([_assert_line(t)], 1.0) for t in first) / max(1, len(first))


def _wrap(code: str) -> str:
    return f"<answer>\n```python\n{code}\n```\n</answer>"


def test_code_reward_many(measure: Measure, batch: Batch, sandbox: sr.Sandbox) -> None:
    texts, tasks = [_wrap(c) for _, c in batch], [t for t, _ in batch]
    code_reward_many(texts[:2], tasks[:2], sandbox=sandbox)  # warm up
    scores = measure(lambda: code_reward_many(texts, tasks, sandbox=sandbox), group=GROUP,
                     label=OURS, items=len(batch), baseline=(REF_VENV, REF_BASE),
                     tests=sum(len(t.tests) for t in tasks))
    assert [s.reward == 1.0 for s in scores] == [i % 2 == 0 for i in range(len(batch))]


@pytest.mark.parametrize("interpreter", ["venv", "base"])
def test_reference(measure: Measure, batch: Batch, interpreter: str) -> None:
    exe = sys.executable if interpreter == "venv" else base_interpreter()
    if exe is None:
        pytest.skip("no base interpreter outside a venv")
    some = batch[:REFERENCE_N]

    def run() -> list[float]:
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(lambda tc: reference_reward(tc[1], tc[0], exe), some))
    label = REF_VENV if interpreter == "venv" else REF_BASE
    rewards = measure(run, group=GROUP, label=label, items=len(some),
                      baseline=None if label == REF_VENV else REF_VENV, rounds=2)
    # Both graders agree on which completions pass every test.
    assert [r == 1.0 for r in rewards] == [i % 2 == 0 for i in range(len(some))]


def test_targets(ratios: Registry) -> None:
    # Issue target: 20x the reference approach with a typical installation's interpreter
    # start-up (the base interpreter with its site-packages); against the bench venv's
    # minimal interpreter it is reported, not held to 20x.
    ratios.check(GROUP, OURS, REF_BASE, at_least=20,
                 why="issue target: 20x the reference with a typical interpreter start-up")
