"""Sandbox throughput on Ray (1 and 2 actors) against the local backend, and the Ray overhead.

Run: ``python bench/ray_scale.py`` (``--json`` for machine output; ``--jobs N``). Starts a
local Ray instance with this machine's cores. Two workloads, each run on every backend in the
same process: trivial programs (``print``: the overhead dominates) and unit-test-sized ones
(about 5 ms of work each). The per-task overhead of the Ray path is the difference in time per
job against the local pool with the same total number of workers.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import stepreward as sr

TRIVIAL = "print({i})"
WORK = "s = 0\nfor k in range(60000):\n    s += k * {i} % 7\nprint(s)"


def measure(sb: sr.Sandbox, template: str, n: int) -> tuple[float, float]:
    """Jobs per second, and the driver process's CPU milliseconds per job."""
    codes = [template.format(i=i) for i in range(n)]
    sb.run_many(codes[: min(50, n)])  # warm the templates and actors
    c0, t0 = time.process_time(), time.perf_counter()
    results = sb.run_many(codes)
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    bad = [r for r in results if r.status != "ok"]
    if bad:
        raise SystemExit(f"benchmark job failed: {bad[0]}")
    return n / took, 1000 * cpu / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    cores = len(os.sched_getaffinity(0))
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    configs: list[tuple[str, dict[str, object]]] = [
        (f"local, {cores} workers", {"workers": cores}),
        (f"ray, 1 actor x {cores} workers", {"backend": "ray", "actors": 1,
                                             "workers_per_node": cores}),
        (f"ray, 2 actors x {max(1, cores // 2)} workers",
         {"backend": "ray", "actors": 2, "workers_per_node": max(1, cores // 2)}),
    ]
    rows = []
    for name, kw in configs:
        with sr.Sandbox(**kw) as sb:  # type: ignore[arg-type]
            trivial, driver_ms = measure(sb, TRIVIAL, args.jobs)
            work, _ = measure(sb, WORK, max(200, args.jobs // 4))
        rows.append({"backend": name, "trivial_per_s": trivial, "work_per_s": work,
                     "driver_cpu_ms_per_job": driver_ms})
    ray.shutdown()
    base = rows[0]
    for r in rows:
        r["trivial_vs_local"] = r["trivial_per_s"] / base["trivial_per_s"]
        r["work_vs_local"] = r["work_per_s"] / base["work_per_s"]
        # Extra wall time per job over the local pool, with the same number of workers busy:
        # what each job costs the Ray path (batching, serialisation, object store).
        r["overhead_ms_per_job"] = 1000 * (1 / r["trivial_per_s"] - 1 / base["trivial_per_s"])
    if args.json:
        print(json.dumps({"cores": cores, "jobs": args.jobs, "rows": rows}, indent=2))
        return
    print(f"{cores} cores, {args.jobs} trivial jobs, {max(200, args.jobs // 4)} ~5 ms jobs\n")
    print(f"{'backend':<28} {'trivial/s':>10} {'vs local':>9} {'work/s':>8} {'vs local':>9} "
          f"{'overhead ms/job':>16} {'driver CPU ms/job':>18}")
    for r in rows:
        print(f"{r['backend']:<28} {r['trivial_per_s']:>10.0f} {r['trivial_vs_local']:>8.2f}x "
              f"{r['work_per_s']:>8.0f} {r['work_vs_local']:>8.2f}x "
              f"{r['overhead_ms_per_job']:>16.3f} {r['driver_cpu_ms_per_job']:>18.3f}")
    ray_rows = [r for r in rows[1:]]
    ceiling = 1000 / max(r["driver_cpu_ms_per_job"] for r in ray_rows)
    print(f"\ndriver ceiling (one core of dispatch): about {ceiling:,.0f} jobs/s")


if __name__ == "__main__":
    main()
