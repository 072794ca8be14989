"""Tracing and question building on CRUXEval: latency, throughput and overhead over untraced.

Run: ``python bench/trace.py`` (``--json`` for machine output). The untraced baseline runs
the same calls in the same sandbox, in the same run, so the ratios are meaningful on a noisy
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import stepreward as sr
from stepreward.questions import sample_from_trace
from stepreward.trace._api import eval_call

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"
KINDS = ("output", "next_statement", "state", "coverage", "branch")


def load() -> list[tuple[str, str]]:
    if not DATA.exists():
        sys.exit(f"CRUXEval data not found at {DATA}")
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    return [(r["code"], f"f({r['input']})") for r in rows]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--limit", type=int, default=800, help="programs for the latency runs")
    args = ap.parse_args()
    items = load()
    lat_items = items[: args.limit]
    out: dict[str, object] = {}
    with sr.Sandbox(workers=2) as sb:
        sr.trace_many(items[:20], sandbox=sb)  # warm up
        untraced, traced, e2e, build, steps = [], [], [], [], 0
        for src, call in lat_items:
            t0 = time.perf_counter()
            eval_call(src, call, sandbox=sb)
            untraced.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            t = sr.trace(src, call, sandbox=sb)
            t1 = time.perf_counter()
            sample_from_trace(t, KINDS, max_per_kind=5, seed=0)
            t2 = time.perf_counter()
            traced.append(t1 - t0)
            build.append(t2 - t1)
            e2e.append(t2 - t0)
            steps += len(t.steps)
        # Throughput: all 800 with 2 workers, traces plus samples.
        t0 = time.perf_counter()
        traces = sr.trace_many(items, sandbox=sb)
        samples = [sample_from_trace(t, KINDS, max_per_kind=5, seed=i)
                   for i, t in enumerate(traces)]
        all_wall = time.perf_counter() - t0
        total_steps = sum(len(t.steps) for t in traces)
        child_time = sum(t.duration_s for t in traces)
        questions = sum(len(s.questions) for s in samples)
        isolation = ",".join(sb.isolation)
    ms = 1000.0
    out = {
        "programs": len(lat_items),
        "untraced_median_ms": statistics.median(untraced) * ms,
        "traced_median_ms": statistics.median(traced) * ms,
        "traced_p95_ms": pct(traced, 0.95) * ms,
        "question_building_median_ms": statistics.median(build) * ms,
        "end_to_end_median_ms": statistics.median(e2e) * ms,
        "end_to_end_p95_ms": pct(e2e, 0.95) * ms,
        "overhead_ratio_median": statistics.median(traced) / statistics.median(untraced),
        "steps_per_program_mean": steps / len(lat_items),
        "all_800_wall_s": all_wall,
        "all_800_programs_per_s": len(items) / all_wall,
        "steps_per_s_in_task": total_steps / child_time,
        "questions_built": questions,
        "isolation": isolation,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, isolation: {isolation}")
    print(f"\nper CRUXEval program, one at a time ({len(lat_items)} programs)")
    print(f"{'':38s} {'median ms':>10s} {'p95 ms':>9s}")
    print(f"{'untraced call in the same sandbox':38s} {out['untraced_median_ms']:10.2f} "
          f"{pct(untraced, 0.95) * ms:9.2f}")
    print(f"{'trace':38s} {out['traced_median_ms']:10.2f} {out['traced_p95_ms']:9.2f}")
    print(f"{'question building (5 kinds)':38s} {out['question_building_median_ms']:10.2f} "
          f"{pct(build, 0.95) * ms:9.2f}")
    print(f"{'end to end (trace + questions)':38s} {out['end_to_end_median_ms']:10.2f} "
          f"{out['end_to_end_p95_ms']:9.2f}")
    print(f"\ntrace / untraced (median): {out['overhead_ratio_median']:.2f}x; "
          f"{out['steps_per_program_mean']:.1f} steps per program")
    print(f"all {len(items)} programs, 2 workers, traces + samples: {all_wall:.2f} s "
          f"({out['all_800_programs_per_s']:.0f} programs/s, {questions} questions)")
    print(f"recording rate inside the task: {out['steps_per_s_in_task']:.0f} steps/s "
          "(steps over task wall time, fork and teardown included)")


if __name__ == "__main__":
    main()
