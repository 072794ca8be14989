"""Tracing and question building on CRUXEval against untraced calls in the same sandbox.

The baseline runs the same call on the same program in the same sandbox without the tracer
(``eval_call``, the path ``trace`` takes minus recording), so the ratio is the tracer's own
cost over an isolated call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import stepreward as sr
from conftest import Measure, Registry
from stepreward.questions import sample_from_trace
from stepreward.trace._api import eval_call

KINDS = ("output", "next_statement", "state", "coverage", "branch")
ONE_N = 200  # programs for the one-at-a-time rows
ONE = "trace: per CRUXEval program, one at a time"
ALL = "trace: all 800 CRUXEval programs, 2 workers"
UNTRACED = "untraced call, same sandbox"
UNTRACED_ALL = "untraced calls (call_many), same sandbox"


@pytest.fixture(scope="module")
def items(data: Path) -> list[tuple[str, str]]:
    rows = [json.loads(x) for x in (data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()]
    return [(r["code"], f"f({r['input']})") for r in rows]


@pytest.fixture(scope="module")
def sandbox(items: list[tuple[str, str]]) -> Iterator[sr.Sandbox]:
    with sr.Sandbox(workers=2) as sb:
        sr.trace_many(items[:20], sandbox=sb)  # start the templates
        yield sb


def test_untraced_one(measure: Measure, items: list[tuple[str, str]],
                      sandbox: sr.Sandbox) -> None:
    some = items[:ONE_N]
    values = measure(lambda: [eval_call(s, c, sandbox=sandbox) for s, c in some], group=ONE,
                     label=UNTRACED, items=len(some))
    assert sum(v is not None for v in values) >= 0.95 * len(some)


def test_trace_one(measure: Measure, items: list[tuple[str, str]], sandbox: sr.Sandbox) -> None:
    some = items[:ONE_N]
    traces = measure(lambda: [sr.trace(s, c, sandbox=sandbox) for s, c in some], group=ONE,
                     label="trace", items=len(some), baseline=UNTRACED)
    assert sum(t.status == "ok" for t in traces) >= 0.95 * len(some)


def test_trace_and_questions_one(measure: Measure, items: list[tuple[str, str]],
                                 sandbox: sr.Sandbox) -> None:
    some = items[:ONE_N]

    def run() -> list[sr.Sample]:
        return [sample_from_trace(sr.trace(s, c, sandbox=sandbox), KINDS, max_per_kind=5,
                                  seed=0) for s, c in some]
    samples = measure(run, group=ONE, label="end to end (trace + questions, 5 kinds)",
                      items=len(some), baseline=UNTRACED)
    assert sum(len(s.questions) for s in samples) > 5 * len(some)


def test_untraced_all(measure: Measure, items: list[tuple[str, str]],
                      sandbox: sr.Sandbox) -> None:
    payloads = [{"source": s, "call": c} for s, c in items]
    results = measure(lambda: sandbox.call_many("stepreward.trace._child:eval_call", payloads),
                      group=ALL, label=UNTRACED_ALL, items=len(items))
    assert sum(r.status == "ok" for r in results) >= 0.95 * len(items)


def test_trace_many_and_questions_all(measure: Measure, items: list[tuple[str, str]],
                                      sandbox: sr.Sandbox) -> None:
    def run() -> list[sr.Sample]:
        traces = sr.trace_many(items, sandbox=sandbox)
        return [sample_from_trace(t, KINDS, max_per_kind=5, seed=i) for i, t in enumerate(traces)]
    samples = measure(run, group=ALL, label="trace_many + questions", items=len(items),
                      baseline=UNTRACED_ALL)
    assert sum(len(s.questions) for s in samples) > 5 * len(items)


def test_targets(ratios: Registry) -> None:
    # Tracing costs a small factor over the isolated call (1.17x measured when the tracer was
    # written): the per-task sandbox cost dominates, not the recording.
    ratios.check(ONE, "trace", UNTRACED, at_least=0.67,
                 why="trace at most 1.5x an untraced call")
    # Issue target: all 800 programs traced with questions in 10 s (80/s) when the untraced
    # sandbox ran about 580 calls/s on the same machine, i.e. >= 0.14x the untraced rate.
    ratios.check(ALL, "trace_many + questions", UNTRACED_ALL, at_least=0.14,
                 why="800 programs in 10 s when untraced calls ran ~580/s")
