"""Synthesis throughput per level against tracing the kept programs alone, same session.

A "valid sample" is a generated program that passed every filter, traced, with its output,
next-statement and state questions built. The baseline traces the very items the synthesizer
kept at that level (same programs, same inputs, same sandbox) and builds their questions: what
a sample costs when no candidate is ever rejected. The ratio is the share of synthesis time
that goes into samples that ship; the rest is generating candidates and the filters (the
dead-code filter traces each candidate on up to four inputs).

The level-3 target is a ratio to the plain sandbox's throughput, measured here right after
synthesis (the machine's speed at that moment).

``--bench-long`` adds the 10,000-sample run over levels 1-6 (about 3-4 minutes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stepreward as sr
from conftest import Measure, Registry
from stepreward.questions import sample_from_trace
from stepreward.synth import LEVELS, SynthStats, normalized_hash, synthesize

KINDS = ("output", "next_statement", "state")
# Samples per level: 400 at level 3, the setting of its target (fewer samples pay more for
# the first and the last batch of candidates: 100 run ~25% slower), 150 elsewhere.
PER_LEVEL = {1: 150, 2: 150, 3: 400, 4: 150, 5: 150, 6: 150}
KEPT: dict[int, list[tuple[str, str]]] = {}  # level -> the items synthesize() kept
SANDBOX = "Sandbox.run_many, small CRUXEval programs, 2 workers (machine speed)"
TRACE_ONLY = "trace + questions of the kept items (no rejects)"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[sr.Sandbox]:
    with sr.Sandbox(workers=2) as sb:
        list(synthesize(20, (1,), seed=999, sandbox=sb))  # start the templates
        yield sb


def _synth(levels: tuple[int, ...], n: int, sb: sr.Sandbox, seed: int) -> dict[str, Any]:
    stats = SynthStats()
    samples, keys, items = [], set(), []
    for k, item in enumerate(synthesize(n, levels, seed=seed, sandbox=sb, stats=stats)):
        samples.append(sample_from_trace(item.trace, KINDS, 5, seed + k))
        keys.add((normalized_hash(item.source), item.call))
        items.append((item.source, item.call))
    return {"samples": len(samples), "programs": stats.programs, "attempts": stats.attempts,
            "duplicates": len(samples) - len(keys),
            "questions": sum(len(s.questions) for s in samples),
            "rejects": dict(stats.rejects.most_common(3)), "items": items}


@pytest.mark.parametrize("level", list(LEVELS))
def test_synthesize(measure: Measure, benchmark: Any, sandbox: sr.Sandbox, level: int) -> None:
    n = PER_LEVEL[level]
    out = measure(lambda: _synth((level,), n, sandbox, 100 * level),
                  group=f"synth: level {level}", label="synthesize + questions",
                  items=n, unit="samples", baseline=(TRACE_ONLY, SANDBOX), rounds=2)
    assert out["samples"] == n and out["duplicates"] == 0
    KEPT[level] = out["items"]
    benchmark.extra_info.update({k: v for k, v in out.items() if k != "items"})


def test_sandbox_speed(measure: Measure, data: Path, sandbox: sr.Sandbox) -> None:
    """The machine's speed right now, for the level-3 target: plain sandbox runs."""
    programs = []
    for line in (data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()[:400]:
        row = json.loads(line)
        programs.append(f"{row['code']}\nassert f({row['input']}) == {row['output']}\n")
    results = measure(lambda: sandbox.run_many(programs), group="synth: level 3",
                      label=SANDBOX, items=len(programs), unit="programs", rounds=2)
    assert all(r.ok for r in results)


@pytest.mark.parametrize("level", list(LEVELS))
def test_trace_kept(measure: Measure, sandbox: sr.Sandbox, level: int) -> None:
    # The items synthesize() kept (the same for the same seed), traced again.
    items = KEPT.get(level) or _synth((level,), PER_LEVEL[level], sandbox, 100 * level)["items"]

    def run() -> list[sr.Sample]:
        traces = sr.trace_many(items, sandbox=sandbox)
        return [sample_from_trace(t, KINDS, 5, i) for i, t in enumerate(traces)]
    samples = measure(run, group=f"synth: level {level}", label=TRACE_ONLY, items=len(items),
                      unit="samples", rounds=2)
    assert all(s.questions for s in samples)


@pytest.mark.bench_long
def test_ten_thousand(measure: Measure, benchmark: Any, sandbox: sr.Sandbox) -> None:
    out = measure(lambda: _synth(tuple(LEVELS), 10_000, sandbox, 7),
                  group="synth: 10,000 samples over levels 1-6", label="synthesize + questions",
                  items=10_000, unit="samples", rounds=1)
    assert out["duplicates"] == 0
    benchmark.extra_info.update({k: v for k, v in out.items() if k != "items"})


def test_targets(ratios: Registry) -> None:
    # Issue target: 100 valid samples/s at level 3 on this 2-core machine when it was quiet,
    # where the sandbox ran 578 small programs/s with 2 workers (docs/sandbox.md; level 3 then
    # made 110/s). A machine's load moves both, so the target is their ratio, against the
    # sandbox measured in this file right after synthesis: >= 100/578 = 0.17x.
    ratios.check("synth: level 3", "synthesize + questions", SANDBOX, at_least=0.17,
                 why="100 samples/s at level 3 when the sandbox ran 578/s")
