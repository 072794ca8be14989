"""What ``Sandbox(preload=["numpy"])`` saves a numpy task, and what it costs the others.

Run: ``python bench/numpy_preload.py`` (``--n`` tasks per row, ``--json`` for machine output).

Three pools in the same run, one worker each, tasks one after the other:

* ``plain``: no preload; numpy cannot be imported there at all (tasks see the standard
  library only), so only the empty task runs;
* ``preload``: numpy imported once by the template, shared by every forked task;
* ``import``: no preload, ``isolation_mode="minimal"`` (no Landlock, so site-packages is
  readable): each task puts site-packages on its path and pays ``import numpy`` itself,
  which is what a task would pay without the preload.

The ratios are the result; absolute times depend on the (shared, noisy) machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy

import stepreward as sr

EMPTY = "x = 1"
NUMPY_TASK = "import numpy as np\nprint(int(np.arange(10).sum()))"


def timed(sb: sr.Sandbox, code: str) -> float:
    t0 = time.perf_counter()
    r = sb.run(code)
    elapsed = time.perf_counter() - t0
    assert r.ok, (r.status, r.reason, r.stderr[-300:])
    return elapsed


def per_task_ms(jobs: dict[str, tuple[sr.Sandbox, str]], n: int) -> dict[str, float]:
    """Median ms per task of each job, the jobs interleaved so that drift hits all alike."""
    for sb, code in jobs.values():
        for _ in range(3):  # warm the pools
            timed(sb, code)
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(n):
        for name, (sb, code) in jobs.items():
            times[name].append(timed(sb, code))
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    site = os.path.dirname(os.path.dirname(numpy.__file__))
    importing = f"import sys\nsys.path.append({site!r})\n{NUMPY_TASK}"
    with sr.Sandbox(workers=1) as plain, \
            sr.Sandbox(workers=1, preload=["numpy"]) as pre, \
            sr.Sandbox(workers=1, isolation_mode="minimal") as minimal:
        rows = per_task_ms({
            "empty task, no preload": (plain, EMPTY),
            "empty task, numpy preloaded": (pre, EMPTY),
            "numpy task, numpy preloaded": (pre, NUMPY_TASK),
            "numpy task, imports numpy itself": (minimal, importing),
        }, args.n)
        vm = {"no preload": plain.info["vm_base"], "numpy preloaded": pre.info["vm_base"]}
    base = rows["empty task, no preload"]
    if args.json:
        print(json.dumps({"numpy": numpy.__version__, "n": args.n, "median_ms": rows,
                          "template_vm_bytes": vm}))
        return
    print(f"numpy {numpy.__version__}, {args.n} tasks per row, median per task")
    print(f"{'task':36} {'ms':>8} {'x empty task':>13}")
    for name, ms in rows.items():
        print(f"{name:36} {ms:8.2f} {ms / base:13.1f}")
    saved = rows["numpy task, imports numpy itself"] / rows["numpy task, numpy preloaded"]
    print(f"preloading makes a numpy task {saved:.1f}x faster")
    print("template address space: " + ", ".join(
        f"{k} {v / 2**20:.0f} MiB" for k, v in vm.items()))


if __name__ == "__main__":
    main()
