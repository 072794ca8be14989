"""Does stage 1 of the tiny-cpu recipe learn beyond seed noise? The recipe with 3 seeds.

Run: ``python bench/recipe_seeds.py`` (``--seeds 0,1,2``, ``--config``, ``--out``, ``--json``).
Each seed runs the recipe's data, SFT, stage-1 and eval stages with every random choice
(data, tokenizer corpus order aside, model init, sampling) drawn from that seed, then reports
the stage-1 training reward over the first and the last quarter of its steps, the mean share
of groups with equal rewards (``frac_reward_zero_std``), and held-out accuracy after SFT and
after stage 1. The rise counts as beyond seed noise when its mean over seeds exceeds twice its
standard error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from stepreward.integrations.recipe import run_recipe

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=str(ROOT / "integrations" / "trl" / "tiny-cpu.yaml"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default="runs/bench-seeds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with open(args.config, encoding="utf-8") as f:
        base = yaml.safe_load(f)
    rows: list[dict[str, Any]] = []
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg = {**base, "seed": seed, "data": {**base["data"], "seed": seed},
               "eval": {**base.get("eval", {}), "checkpoints": ["sft", "stage1"]}}
        t0 = time.monotonic()
        summary = run_recipe(cfg, ("data", "sft", "stage1", "eval"), Path(args.out) / str(seed))
        s1 = summary["stage1"]
        held = json.loads((Path(args.out) / str(seed) / "eval" / "metrics.json").read_text())
        rows.append({"seed": seed, "first": s1["reward_first_quarter"],
                     "last": s1["reward_last_quarter"],
                     "zero_std": s1["frac_reward_zero_std"],
                     "sft_format": held["checkpoints"]["sft"]["format"],
                     "sft_acc": held["checkpoints"]["sft"]["accuracy"],
                     "stage1_acc": held["checkpoints"]["stage1"]["accuracy"],
                     "minutes": (time.monotonic() - t0) / 60})
    deltas = [r["last"] - r["first"] for r in rows]
    n = len(deltas)
    mean = sum(deltas) / n
    std = math.sqrt(sum((d - mean) ** 2 for d in deltas) / (n - 1)) if n > 1 else 0.0
    se = std / math.sqrt(n) if n else 0.0
    verdict = ("beyond seed noise" if n > 1 and mean > 2 * se
               else "NOT beyond seed noise")
    if args.json:
        print(json.dumps({"runs": rows, "mean_rise": mean, "std_rise": std,
                          "verdict": verdict}, indent=2))
        return 0
    print(f"{'seed':>4} {'1st quarter':>11} {'last quarter':>12} {'rise':>7} "
          f"{'zero-std':>8} {'SFT fmt':>7} {'SFT acc':>7} {'S1 acc':>7} {'min':>5}")
    for r in rows:
        print(f"{r['seed']:>4} {r['first']:>11.3f} {r['last']:>12.3f} "
              f"{r['last'] - r['first']:>+7.3f} {r['zero_std']:>8.3f} {r['sft_format']:>7.3f} "
              f"{r['sft_acc']:>7.3f} {r['stage1_acc']:>7.3f} {r['minutes']:>5.1f}")
    print(f"stage-1 reward rise: {mean:+.3f} ± {std:.3f} (std over {n} seeds; "
          f"standard error {se:.3f}): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
