"""Property tests: next_line, value_after and occurrences agree with the step list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stepreward as sr

SMALL_PROGRAMS = [
    ("def f(xs):\n    out = []\n    for x in xs:\n        if x % 2:\n            out.append(x)\n"
     "        else:\n            out.insert(0, x)\n    return out\n", "f({arg})"),
    ("def g(a):\n    return a + 1\n\ndef f(xs):\n    t = 0\n    for x in xs:\n"
     "        t = g(t) if x else t - 1\n    while t > 3:\n        t -= 2\n    return t\n",
     "f({arg})"),
]


@pytest.fixture(scope="module")
def traces(sandbox: sr.Sandbox, shared_data: Path) -> list[sr.Trace]:
    rows = [json.loads(line) for line in
            (shared_data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()[::8]]
    return sr.trace_many([(r["code"], f"f({r['input']})") for r in rows], sandbox=sandbox)


def check_consistency(t: sr.Trace) -> None:
    counts: dict[int, int] = {}
    for i, step in enumerate(t.steps):
        counts[step.line] = counts.get(step.line, 0) + 1
        assert step.occurrence == counts[step.line]
        assert t.step_at(step.line, step.occurrence) is step
        nxt = t.next_line(step.line, step.occurrence)
        if i + 1 < len(t.steps):
            assert nxt == t.steps[i + 1].line
        else:
            assert nxt == (None if t.truncated else -1)
        for var, value in step.state_after.items():
            assert t.value_after(step.line, step.occurrence, var) == value
        for var in step.changed:
            assert var in step.state_after
    for line, n in counts.items():
        assert t.occurrences(line) == n
        assert t.next_line(line, n + 1) is None
    assert t.executed_lines == set(counts)


def test_consistency_on_cruxeval(traces: list[sr.Trace]) -> None:
    assert len(traces) == 100
    for t in traces:
        assert t.status == "ok", t.reason
        check_consistency(t)


@settings(max_examples=40, deadline=None)
@given(program=st.sampled_from(SMALL_PROGRAMS),
       xs=st.lists(st.integers(-5, 5), max_size=8))
def test_consistency_on_generated_inputs(sandbox: sr.Sandbox, program: tuple[str, str],
                                         xs: list[int]) -> None:
    src, call = program
    t = sr.trace(src, call.format(arg=repr(xs)), sandbox=sandbox)
    assert t.status == "ok", t.reason
    check_consistency(t)
    # Changed variables are exactly those whose value differs from the previous state of the
    # same frame.
    previous: dict[int, dict[str, sr.Value]] = {}
    for step in t.steps:
        before = previous.get(step.frame)
        if before is not None:
            diff = {k for k, v in step.state_after.items() if before.get(k) != v}
            assert diff == set(step.changed)
        previous[step.frame] = step.state_after
