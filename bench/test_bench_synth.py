"""Synthesis throughput per level against tracing the kept programs alone, same session.

A "valid sample" is a generated program that passed every filter, traced, with its output,
next-statement and state questions built. The baseline traces the very items the synthesizer
kept at that level (same programs, same inputs, same sandbox) and builds their questions: what
a sample costs when no candidate is ever rejected. The ratio is the share of synthesis time
that goes into samples that ship; the rest is generating candidates and the filters (the
dead-code filter traces each candidate on up to four inputs).

The level-3 target is a ratio to the sandbox's throughput in the same session, so it is
checked when this file runs with ``test_bench_sandbox.py`` (as ``make bench`` does).

``--bench-long`` adds the 10,000-sample run over levels 1-6 (about 3-4 minutes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import stepreward as sr
from conftest import Measure, Registry
from stepreward.questions import sample_from_trace
from stepreward.synth import LEVELS, SynthStats, normalized_hash, synthesize

KINDS = ("output", "next_statement", "state")
PER_LEVEL = 100
TRACE_ONLY = "trace + questions of the kept items (no rejects)"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[sr.Sandbox]:
    with sr.Sandbox(workers=2) as sb:
        list(synthesize(20, (1,), 999, sandbox=sb))  # start the templates
        yield sb


def _synth(levels: tuple[int, ...], n: int, sb: sr.Sandbox, seed: int) -> dict[str, Any]:
    stats = SynthStats()
    samples, keys, items = [], set(), []
    for k, item in enumerate(synthesize(n, levels, seed, sandbox=sb, stats=stats)):
        samples.append(sample_from_trace(item.trace, KINDS, 5, seed + k))
        keys.add((normalized_hash(item.source), item.call))
        items.append((item.source, item.call))
    return {"samples": len(samples), "programs": stats.programs, "attempts": stats.attempts,
            "duplicates": len(samples) - len(keys),
            "questions": sum(len(s.questions) for s in samples),
            "rejects": dict(stats.rejects.most_common(3)), "items": items}


@pytest.mark.parametrize("level", list(LEVELS))
def test_synthesize(measure: Measure, benchmark: Any, sandbox: sr.Sandbox, level: int) -> None:
    out = measure(lambda: _synth((level,), PER_LEVEL, sandbox, 100 * level),
                  group=f"synth: level {level}", label="synthesize + questions",
                  items=PER_LEVEL, unit="samples", baseline=TRACE_ONLY, rounds=2)
    assert out["samples"] == PER_LEVEL and out["duplicates"] == 0
    benchmark.extra_info.update({k: v for k, v in out.items() if k != "items"})


@pytest.mark.parametrize("level", list(LEVELS))
def test_trace_kept(measure: Measure, sandbox: sr.Sandbox, level: int) -> None:
    # The items synthesize() kept for the same seed (it is deterministic), traced again.
    items = _synth((level,), PER_LEVEL, sandbox, 100 * level)["items"]

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
    # where the sandbox ran 578 small programs/s with 2 workers (docs/sandbox.md). A machine's
    # speed moves both, so the target is their ratio: >= 100/578 = 0.17x of the sandbox's
    # throughput measured in the same session (bench/test_bench_sandbox.py).
    ratios.check("synth: level 3", "synthesize + questions", "Sandbox, 2 workers",
                 baseline_group="sandbox: small CRUXEval programs", at_least=0.17,
                 why="100 samples/s at level 3 when the sandbox ran 578/s")
