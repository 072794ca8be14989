"""Sandbox throughput and latency against in-process exec and subprocess baselines.

Run: ``python bench/sandbox.py`` (``--quick`` for a short run, ``--json`` for machine output).
Every number in one table comes from the same run, so the ratios are meaningful even on a
noisy shared machine; absolute numbers are not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import stepreward as sr

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"

FALLBACK_SMALL = [
    "def f(nums, k):\n    out = []\n    for x in nums:\n        if x % k == 0:\n"
    "            out.append(x)\n    return out\nassert f([3, 4, 6, 9], 3) == [3, 6, 9]",
    "def f(s):\n    return ''.join(reversed(s.split()))\nassert f('a b c') == 'cba'",
]

BIG = (
    "def f(n):\n"
    "    total = 0\n"
    "    for i in range(n):\n"
    "        if i % 3 == 0:\n"
    "            total += i\n"
    "        else:\n"
    "            total -= 1\n"
    "    return total\n"
    "assert f(500) == sum(i for i in range(500) if i % 3 == 0) - sum(\n"
    "    1 for i in range(500) if i % 3)\n"
)  # about 2,000 line executions


def small_programs(limit: int) -> list[str]:
    if not DATA.exists():
        return FALLBACK_SMALL * (limit // len(FALLBACK_SMALL) + 1)
    programs = []
    with DATA.open() as f:
        for line in f:
            row = json.loads(line)
            programs.append(f"{row['code']}\nassert f({row['input']}) == {row['output']}\n")
            if len(programs) >= limit:
                break
    return programs


def timed(fn, items, threads):  # type: ignore[no-untyped-def]
    lat: list[float] = []

    def one(code: str) -> bool:
        t = time.perf_counter()
        ok = fn(code)
        lat.append(time.perf_counter() - t)
        return ok

    t0 = time.perf_counter()
    if threads == 1:
        oks = [one(c) for c in items]
    else:
        with ThreadPoolExecutor(threads) as pool:
            oks = list(pool.map(one, items))
    wall = time.perf_counter() - t0
    return len(items) / wall, statistics.median(lat), sum(oks)


def run_exec(code: str) -> bool:
    try:
        exec(compile(code, "<bench>", "exec"), {"__name__": "__main__"})
        return True
    except Exception:
        return False


def base_interpreter() -> str | None:
    """The interpreter this venv was made from, with its own (usually larger) site-packages:
    closer to a training environment, where ``python -c`` pays for importing site."""
    exe = os.path.join(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    if sys.base_prefix == sys.prefix or not os.path.exists(exe):
        return None
    return exe


def run_subprocess(flags: list[str], exe: str = sys.executable):  # type: ignore[no-untyped-def]
    def go(code: str) -> bool:
        r = subprocess.run([exe, *flags, "-c", code], capture_output=True,
                           timeout=10, check=False)
        return r.returncode == 0
    return go


def bench(programs: list[str], reps: int, sub_reps: int) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    items = (programs * (reps // len(programs) + 1))[:reps]
    sub_items = items[:sub_reps]
    rate, med, ok = timed(run_exec, items, 1)
    rows.append({"method": "in-process exec (floor, no isolation)", "rate": rate, "median": med,
                 "ok": ok / len(items)})
    variants: list[tuple[str, list[str], str]] = [
        ("subprocess python -c (reference)", [], sys.executable),
        ("subprocess python -I -S -c", ["-I", "-S"], sys.executable)]
    base = base_interpreter()
    if base:
        variants.append(("python -c, base interpreter + its site", [], base))
    for label, flags, exe in variants:
        rate, med, ok = timed(run_subprocess(flags, exe), sub_items, 2)
        rows.append({"method": f"{label}, 2 threads", "rate": rate, "median": med,
                     "ok": ok / len(sub_items)})
    for workers in (1, 2):
        with sr.Sandbox(workers=workers) as sb:
            sb.run_many(items[:20])  # warm up
            lat_items = items[: min(len(items), 200)]
            _, med, _ = timed(lambda c, sb=sb: sb.run(c).ok, lat_items, 1)
            t0 = time.perf_counter()
            results = sb.run_many(items)
            wall = time.perf_counter() - t0
            layers = ",".join(sb.isolation)
        rows.append({"method": f"Sandbox, {workers} worker{'s' if workers > 1 else ''}",
                     "rate": len(items) / wall, "median": med,
                     "ok": sum(r.ok for r in results) / len(items), "isolation": layers})
    return rows


def print_table(title: str, rows: list[dict[str, float | str]]) -> None:
    by = {str(r["method"]): float(r["rate"]) for r in rows}
    base_c = by["subprocess python -c (reference), 2 threads"]
    base_site = by.get("python -c, base interpreter + its site, 2 threads")
    base_is = by["subprocess python -I -S -c, 2 threads"]
    floor = by["in-process exec (floor, no isolation)"]
    print(f"\n{title}")
    head = (f"{'method':48s} {'exec/s':>9s} {'median ms':>10s} {'vs python -c':>13s} "
            f"{'vs -I -S':>9s} {'vs base -c':>11s} {'of floor':>9s} {'ok':>5s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        rate = float(r["rate"])
        vs_site = f"{rate / base_site:10.1f}x" if base_site else f"{'n/a':>11s}"
        print(f"{r['method']!s:48s} {rate:9.1f} {float(r['median']) * 1000:10.2f} "
              f"{rate / base_c:12.1f}x {rate / base_is:8.1f}x {vs_site} {rate / floor:8.3f}x "
              f"{float(r['ok']):5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args()
    reps, sub_reps = (400, 60) if args.quick else (2000, 200)
    small = small_programs(200)
    results = {
        "small CRUXEval programs": bench(small, reps, sub_reps),
        "one program with ~2,000 line executions": bench([BIG], reps // 2, sub_reps // 2),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"isolation: {results['small CRUXEval programs'][-1].get('isolation')}")
    for title, rows in results.items():
        print_table(title, rows)


if __name__ == "__main__":
    main()
