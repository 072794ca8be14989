"""Synthesis throughput: valid samples per second per level, rejects per filter, duplicates.

Run: ``python bench/synth.py`` (``--quick`` skips the 10,000-sample run, ``--json`` for
machine output). A "valid sample" is a generated program that passed every filter, traced,
with its questions built (output, next_statement, state).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import stepreward as sr
from stepreward.questions import sample_from_trace
from stepreward.synth import LEVELS, SynthStats, normalized_hash, synthesize

KINDS = ("output", "next_statement", "state")


def run(levels: tuple[int, ...], n: int, sb: sr.Sandbox, seed: int) -> dict[str, object]:
    stats = SynthStats()
    t0 = time.perf_counter()
    samples = []
    keys = set()
    for k, item in enumerate(synthesize(n, levels, seed, sandbox=sb, stats=stats)):
        samples.append(sample_from_trace(item.trace, KINDS, 5, seed + k))
        keys.add((normalized_hash(item.source), item.call))
    wall = time.perf_counter() - t0
    candidates = stats.attempts
    return {"levels": list(levels), "samples": len(samples), "seconds": wall,
            "samples_per_s": len(samples) / wall, "attempts": candidates,
            "programs": stats.programs, "duplicates": len(samples) - len(keys),
            "questions": sum(len(s.questions) for s in samples),
            "rejects": dict(stats.rejects.most_common())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--per-level", type=int, default=400)
    args = ap.parse_args()
    results: dict[str, object] = {}
    with sr.Sandbox(workers=2) as sb:
        list(synthesize(20, (1,), 999, sandbox=sb))  # warm up
        per_level = {lv: run((lv,), args.per_level, sb, seed=100 * lv) for lv in LEVELS}
        results["per_level"] = per_level
        if not args.quick:
            results["ten_thousand"] = run(tuple(LEVELS), 10_000, sb, seed=7)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, 2 sandbox workers\n")
    print(f"{'level':>5} {'samples/s':>10} {'samples':>8} {'programs':>9} {'attempts':>9}  "
          "rejects per filter (candidates)")
    for lv, r in per_level.items():
        rejects = ", ".join(f"{k}: {v}" for k, v in r["rejects"].items())  # type: ignore[attr-defined]
        print(f"{lv:>5} {r['samples_per_s']:>10.1f} {r['samples']:>8} {r['programs']:>9} "
              f"{r['attempts']:>9}  {rejects}")
    if "ten_thousand" in results:
        r = results["ten_thousand"]
        print(f"\n10,000 samples over levels 1-6: {r['seconds']:.0f} s "  # type: ignore[index]
              f"({r['samples_per_s']:.0f}/s), duplicates: {r['duplicates']}, "  # type: ignore[index]
              f"questions: {r['questions']}")  # type: ignore[index]


if __name__ == "__main__":
    main()
