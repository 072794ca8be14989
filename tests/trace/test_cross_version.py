"""The same steps, values, questions and gold answers on CPython 3.10-3.13 for all 800
CRUXEval programs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import stepreward as sr
from stepreward.questions import sample_from_trace

ALL_KINDS = ("output", "next_statement", "state", "coverage", "branch")

VERSIONS = ("3.10.13", "3.11.7", "3.12.1", "3.13.0")
PYTHONS = {v: p for v in VERSIONS
           if os.path.exists(p := f"{os.path.expanduser('~')}/.pyenv/versions/{v}/bin/python")}


def value_key(v: sr.Value | None) -> Any:
    if v is None:
        return None
    # A set's repr order depends on the interpreter's string hash; its literal does not.
    return (v.type_name, json.dumps(v.literal, sort_keys=True)) if v.is_literal else (
        v.type_name, v.repr)


def signature(t: sr.Trace) -> Any:
    return (t.status, t.truncated, value_key(t.result),
            t.exception.type if t.exception else None,
            [(s.line, s.occurrence, s.depth, s.func, s.changed,
              sorted((k, value_key(v)) for k, v in s.state_after.items())) for s in t.steps])


@pytest.mark.slow
@pytest.mark.skipif(len(PYTHONS) < 2, reason="needs several CPython versions (pyenv)")
def test_cruxeval_traces_and_questions_identical_across_versions(shared_data: Path) -> None:
    rows = [json.loads(line) for line in
            (shared_data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()]
    items = [(r["code"], f"f({r['input']})") for r in rows]
    per_version: dict[str, list[Any]] = {}
    for version, python in PYTHONS.items():
        with sr.Sandbox(workers=2, python=python) as sb:
            traces = sr.trace_many(items, sandbox=sb)
        assert all(t.status == "ok" for t in traces), version
        sigs = []
        for i, t in enumerate(traces):
            samples = [sample_from_trace(t, kinds, max_per_kind=5, seed=i)
                       for kinds in (ALL_KINDS, ("input",))]
            sigs.append((signature(t), [(s.prompt, [q.gold_text for q in s.questions])
                                        for s in samples]))
        per_version[version] = sigs
    baseline_version, baseline = next(iter(per_version.items()))
    for version, sigs in per_version.items():
        differing = [rows[i]["id"] for i in range(len(rows)) if sigs[i] != baseline[i]]
        assert differing == [], f"{version} differs from {baseline_version} on {differing}"
