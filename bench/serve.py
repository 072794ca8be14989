"""``stepreward serve`` throughput and latency for stage-1 samples, against in-process scoring.

Run: ``python bench/serve.py`` (``--json`` for machine output). The server runs as its own
process (``stepreward serve``), a client process sends OpenRLHF-style requests (one sample
each, as OpenRLHF does) over loopback with 64 in flight; the same completions are scored
in-process in the same run as the baseline.

Target (bench-only, as a ratio in the same run): >= 1,000 requests/s was set on a quiet
2-core machine where in-process scoring ran about 13,000/s, so the better server row must
reach at least 1,000 / 13,000 = 0.077x of in-process scoring; the script exits with status 1
when it does not. pytest-benchmark times one call in one process, so this stays a script
(``make bench-scripts``; docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import stepreward as sr

PROMPT = "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_requests(n: int) -> list[dict[str, object]]:
    import tempfile

    from stepreward.synth import build_dataset

    work = tempfile.mkdtemp(prefix="serve-bench-")
    build_dataset(200, work, levels=(2, 3, 4), seed=3, max_per_kind=5)
    with open(f"{work}/train.jsonl") as f:
        rows = [json.loads(x) for x in f]
    rng = random.Random(0)
    out = []
    for i in range(n):
        row = rows[i % len(rows)]
        sample = sr.Sample.from_row(json.loads(row["label"]))
        gold = sample.gold_answers()
        answers = gold if i % 2 == 0 else [a if rng.random() < 0.6 else "0; int" for a in gold]
        prompt = PROMPT.format(q=sample.prompt)
        out.append({"query": [prompt + sample.answer_text(answers) + "<|im_end|>"],
                    "prompts": [prompt], "labels": [row["label"]]})
    return out


async def client(url: str, bodies: list[dict[str, object]], concurrency: int) -> list[float]:
    import aiohttp

    latencies: list[float] = []
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        async def one(body: dict[str, object]) -> None:
            async with sem:
                t0 = time.perf_counter()
                async with s.post(url, json=body) as resp:
                    resp.raise_for_status()
                    await resp.json()
                latencies.append(time.perf_counter() - t0)
        await asyncio.gather(*(one(b) for b in bodies))
    return latencies


def bench_server(workers: int, bodies: list[dict[str, object]]) -> dict[str, float]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stepreward.cli", "serve", "--port",
                             str(port), "--workers", str(workers)],
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(client(url, bodies[:200], 64))  # warm up (sample cache, connections)
        t0 = time.perf_counter()
        lat = asyncio.run(client(url, bodies, 64))
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lat.sort()
    return {"workers": workers, "requests_per_s": len(bodies) / wall,
            "p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[int(0.99 * len(lat))] * 1000}


TARGET_VS_IN_PROCESS = 1000 / 13_000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--n", type=int, default=4000)
    args = ap.parse_args()
    from stepreward.integrations.openrlhf import extract_response, score_one

    bodies = make_requests(args.n)
    for b in bodies[:200]:
        score_one(extract_response(b["query"][0], b["prompts"][0]), b["labels"][0])  # type: ignore[index]
    t0 = time.perf_counter()
    for b in bodies:
        score_one(extract_response(b["query"][0], b["prompts"][0]), b["labels"][0])  # type: ignore[index]
    inproc = len(bodies) / (time.perf_counter() - t0)
    results = [bench_server(w, bodies) for w in (1, 2)]
    ratio = max(r["requests_per_s"] for r in results) / inproc
    met = ratio >= TARGET_VS_IN_PROCESS
    if args.json:
        print(json.dumps({"in_process_per_s": inproc, "server": results,
                          "server_vs_in_process": ratio, "target_met": met}, indent=2))
        return 0 if met else 1
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {len(bodies)} stage-1 "
          "requests (one sample each, literal policy), 64 in flight over loopback\n")
    print(f"{'':36s} {'requests/s':>11s} {'p50 ms':>8s} {'p99 ms':>8s}")
    print(f"{'in-process score (no HTTP)':36s} {inproc:11.0f} {'':>8s} {'':>8s}")
    for r in results:
        print(f"{'stepreward serve, ' + str(r['workers']) + ' worker(s)':36s} "
              f"{r['requests_per_s']:11.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}")
    print(f"\n{'met ' if met else 'MISS'} serve vs in-process scoring: {ratio:.3f}x (target >= "
          f"{TARGET_VS_IN_PROCESS:.3f}x: 1,000 requests/s when in-process ran 13,000/s)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
