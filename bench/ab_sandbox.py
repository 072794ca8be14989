"""Two versions of the sandbox, rounds in turn: ``old/new`` ratios of wall and CPU time.

On a machine shared with other jobs, whole benchmark runs of two versions scatter too much to
show a difference of a few percent. Here each version runs in its own process with a warm
``Sandbox``; the two take turns running one round of 400 programs (the workloads of
``test_bench_sandbox.py``), so each pair of rounds sees the same load, and each round's CPU
time (the pool, its templates and their tasks) is counted as well as its wall time.

    python bench/ab_sandbox.py OLD/src NEW/src --pairs 30

Prints, per workload and worker count, the median over pairs of old/new (above 1: the new
version is faster). The CRUXEval file comes from ``--data`` or ``$STEPREWARD_DATA`` (else the
``shared/data`` folder beside the checkout), as for the benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from workloads import BIG

N = 400


def _programs(data: Path, workload: str) -> list[str]:
    if workload == "big":
        return [BIG] * N
    small: list[str] = []
    with (data / "cruxeval" / "cruxeval.jsonl").open() as f:
        for line in f:
            row = json.loads(line)
            small.append(f"{row['code']}\nassert f({row['input']}) == {row['output']}\n")
            if len(small) >= N:
                break
    return small


def _cpu_seconds() -> float:
    """CPU time of this process and everything under it (the templates count their tasks)."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def serve(data: Path, workload: str, workers: int) -> None:
    """One side: a warm Sandbox; each line on stdin runs one round and prints wall and CPU."""
    import stepreward as sr

    items = _programs(data, workload)
    with sr.Sandbox(workers=workers) as sb:
        sb.run_many(items[:20])  # start the templates
        print("ready", flush=True)
        for _ in sys.stdin:
            c0, t0 = _cpu_seconds(), time.perf_counter()
            results = sb.run_many(items)
            wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
            if not all(r.ok for r in results):
                raise SystemExit("a program failed in the sandbox")
            print(wall, cpu, flush=True)


def compare(old: str, new: str, data: Path, pairs: int, workloads: list[str],
            worker_counts: list[int]) -> None:
    for workload in workloads:
        for workers in worker_counts:
            procs = {}
            for side, src in (("old", old), ("new", new)):
                env = {**os.environ, "PYTHONPATH": src}
                procs[side] = subprocess.Popen(
                    [sys.executable, __file__, "--serve", workload, str(workers),
                     "--data", str(data)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    text=True, env=env)
                assert procs[side].stdout is not None
                if procs[side].stdout.readline().strip() != "ready":
                    raise SystemExit(f"the {side} side did not start")
            times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
            for i in range(pairs):
                for side in (("old", "new") if i % 2 else ("new", "old")):
                    p = procs[side]
                    assert p.stdin is not None and p.stdout is not None
                    p.stdin.write("go\n")
                    p.stdin.flush()
                    wall, cpu = map(float, p.stdout.readline().split())
                    times[side].append((wall, cpu))
            for p in procs.values():
                assert p.stdin is not None
                p.stdin.close()
                p.wait()
            wall = statistics.median(o[0] / n[0] for o, n in zip(times["old"], times["new"],
                                                                   strict=True))
            cpu = statistics.median(o[1] / n[1] for o, n in zip(times["old"], times["new"],
                                                                  strict=True))
            print(f"{workload}, {workers} worker(s), {pairs} pairs: old/new wall {wall:.3f}, "
                  f"CPU {cpu:.3f}; fastest round old {min(t[0] for t in times['old']):.3f} s, "
                  f"new {min(t[0] for t in times['new']):.3f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", nargs="?", help="the old version's src directory")
    ap.add_argument("new", nargs="?", help="the new version's src directory")
    ap.add_argument("--pairs", type=int, default=15)
    ap.add_argument("--workloads", default="small,big")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get(
        "STEPREWARD_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--serve", nargs=2, metavar=("WORKLOAD", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.data, args.serve[0], int(args.serve[1]))
        return 0
    if not args.old or not args.new:
        ap.error("give the old and the new version's src directories")
    compare(args.old, args.new, args.data, args.pairs, args.workloads.split(","),
            [int(w) for w in args.workers.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
