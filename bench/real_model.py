"""The method on a real pretrained model (SmolLM2-135M-Instruct) on CPU, over several seeds.

Run ``python bench/real_model.py`` (``--seeds 0,1,2``, ``--config``, ``--model``, ``--out``,
``--json``) after ``stepreward models fetch smollm2 --out models/smollm2``; set
``STEPREWARD_DATA`` to a folder holding ``cruxeval/cruxeval.jsonl`` (the ``shared/data`` folder
beside the checkout is used when it exists). Each seed runs the whole recipe (data, SFT, stage
1, stage 2, eval of base, SFT, stage 1 and stage 2) with every random choice drawn from that
seed, and the script prints one table per stage with mean ± std over seeds: greedy and sampled
held-out accuracy per question kind, answer format, CRUXEval-O/-I pass@1, CRUXEval
trace-question accuracy and the code pass rate; then the paired verdicts of stage 1 against SFT
on held-out output questions (per seed, and over seeds), and the reward share of a GRPO step.
docs/real-model.md holds its output.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from stepreward.integrations.recipe import run_recipe

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("base", "sft", "stage1", "stage2")
COLUMNS = ("output", "next_statement", "state", "accuracy", "sampled", "format", "cruxeval-o",
           "cruxeval-i", "cruxeval-trace_questions", "code_pass_rate")
SHORT = {"next_statement": "next", "accuracy": "all q", "cruxeval-o": "crux-O",
         "cruxeval-i": "crux-I", "cruxeval-trace_questions": "crux-trace",
         "code_pass_rate": "code"}


def mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / max(1, n)
    return mean, (math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0)


def paired(before: list[float], after: list[float]) -> tuple[float, float]:
    """Mean paired difference and twice its standard error."""
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    n = len(diffs)
    delta = sum(diffs) / n
    var = sum((d - delta) ** 2 for d in diffs) / max(1, n - 1)
    return delta, 2 * math.sqrt(var / n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=str(ROOT / "integrations" / "trl" / "smollm2-cpu.yaml"))
    ap.add_argument("--model", default=str(ROOT / "models" / "smollm2"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default="runs/real-model")
    ap.add_argument("--report-only", action="store_true",
                    help="read finished runs under --out instead of training")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    shared = ROOT.parent / "shared" / "data"
    if "STEPREWARD_DATA" not in os.environ and shared.is_dir():
        os.environ["STEPREWARD_DATA"] = str(shared)
    with open(args.config, encoding="utf-8") as f:
        base = yaml.safe_load(f)
    base["model"] = {**base.get("model", {}), "name_or_path": args.model}
    runs: dict[int, dict[str, Any]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        folder = Path(args.out) / f"seed-{seed}"
        t0 = time.monotonic()
        if not args.report_only:
            run_recipe({**base, "seed": seed}, out_dir=folder)
        metrics = json.loads((folder / "eval" / "metrics.json").read_text())
        summary = json.loads((folder / "summary.json").read_text())
        runs[seed] = {"eval": metrics["checkpoints"], "summary": summary,
                      "minutes": (time.monotonic() - t0) / 60,
                      "timing": {st: json.loads((folder / st / "timing.json").read_text())
                                 for st in ("stage1", "stage2")
                                 if (folder / st / "timing.json").exists()}}
    report = _report(runs)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(report["text"])
    return 0


def _report(runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    lines = [f"{len(runs)} seed(s): {', '.join(map(str, runs))}", ""]
    head = f"{'stage':<7} " + " ".join(f"{SHORT.get(c, c):>13}" for c in COLUMNS)
    lines += [head, "-" * len(head)]
    table: dict[str, dict[str, list[float]]] = {}
    for stage in STAGES:
        cells = []
        for col in COLUMNS:
            vals = [float(r["eval"][stage][col]) for r in runs.values()
                    if stage in r["eval"] and isinstance(r["eval"][stage].get(col), (int, float))]
            table.setdefault(stage, {})[col] = vals
            if vals:
                m, s = mean_std(vals)
                cells.append(f"{m:>7.3f}±{s:<5.3f}")
            else:
                cells.append(f"{'-':>13}")
        lines.append(f"{stage:<7} " + " ".join(cells))
    lines += ["", "stage 1 vs SFT, held-out greedy output accuracy (paired on the same samples):"]
    deltas = []
    for seed, r in runs.items():
        a = r["eval"].get("sft", {}).get("per_sample_output")
        b = r["eval"].get("stage1", {}).get("per_sample_output")
        if a and b and len(a) == len(b):
            d, band = paired(a, b)
            deltas.append(d)
            word = "beyond" if abs(d) > band else "within"
            lines.append(f"  seed {seed}: {d:+.3f} (noise ±{band:.3f}: {word} noise)")
    if len(deltas) > 1:
        m, s = mean_std(deltas)
        se = s / math.sqrt(len(deltas))
        word = "beyond" if abs(m) > 2 * se else "within"
        lines.append(f"  over seeds: {m:+.3f} ± {s:.3f} (2 SE ±{2 * se:.3f}: {word} seed noise)")
    for bench in ("cruxeval-o", "cruxeval-i"):
        lines.append(f"stage 1 vs SFT, {bench} pass@1 (paired on the same items):")
        for seed, r in runs.items():
            a = r["eval"].get("sft", {}).get(f"per_item_{bench}")
            b = r["eval"].get("stage1", {}).get(f"per_item_{bench}")
            if a and b and len(a) == len(b):
                d, band = paired(a, b)
                word = "beyond" if abs(d) > band else "within"
                lines.append(f"  seed {seed}: {d:+.3f} (noise ±{band:.3f}: {word} noise)")
    lines += ["", "GRPO step time and the reward's share of it:"]
    for seed, r in runs.items():
        for st, t in r["timing"].items():
            if t:
                lines.append(f"  seed {seed} {st}: step {t['step_s']:.1f} s, reward "
                             f"{t['reward_s']:.3f} s, share {100 * t['reward_share']:.2f}%")
    first = next(iter(runs.values()))["summary"]
    lines += ["", "minutes per seed: " + ", ".join(f"{r['minutes']:.1f}" for r in runs.values()),
              "stage seconds (first seed): " + ", ".join(
                  f"{k} {v.get('seconds')}" for k, v in first.items())]
    return {"text": "\n".join(lines), "table": table,
            "seeds": {s: {"timing": r["timing"], "minutes": r["minutes"]} for s, r in runs.items()}}


if __name__ == "__main__":
    sys.exit(main())
