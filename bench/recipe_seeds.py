"""Does stage 1 of the tiny-cpu recipe learn beyond seed noise? The recipe with 3 seeds.

Run: ``python bench/recipe_seeds.py`` (``--seeds 0,1,2``, ``--config``, ``--out``, ``--json``).
Each seed runs the recipe's data, SFT, stage-1 and eval stages with every random choice
(data, tokenizer corpus order aside, model init, sampling) drawn from that seed, then reports
the stage-1 training reward over the first and the last quarter of its steps, the mean share
of groups with equal rewards (``frac_reward_zero_std``), and held-out accuracy after SFT and
after stage 1, greedy and sampled (at the eval temperature, averaged over the eval's draws per
prompt). A rise counts as beyond seed noise when its mean over seeds exceeds twice its
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

from stepreward.recipe import run_recipe

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
                     "sft_sampled": held["checkpoints"]["sft"].get("sampled", float("nan")),
                     "stage1_sampled": held["checkpoints"]["stage1"].get("sampled",
                                                                         float("nan")),
                     "minutes": (time.monotonic() - t0) / 60})
    def rise(key: str) -> tuple[float, float, float, str]:
        deltas = [r[key] for r in rows]
        n = len(deltas)
        mean = sum(deltas) / n
        std = math.sqrt(sum((d - mean) ** 2 for d in deltas) / (n - 1)) if n > 1 else 0.0
        se = std / math.sqrt(n)
        verdict = "beyond seed noise" if n > 1 and mean > 2 * se else "NOT beyond seed noise"
        return mean, std, se, verdict

    for r in rows:
        r["reward_rise"] = r["last"] - r["first"]
        r["greedy_rise"] = r["stage1_acc"] - r["sft_acc"]
        r["sampled_rise"] = r["stage1_sampled"] - r["sft_sampled"]
    checks = {"stage-1 training reward": rise("reward_rise"),
              "held-out sampled accuracy after stage 1": rise("sampled_rise"),
              "held-out greedy accuracy after stage 1": rise("greedy_rise")}
    if args.json:
        fields = ("mean", "std", "se", "verdict")
        print(json.dumps({"runs": rows, **{name: dict(zip(fields, c, strict=True))
                                           for name, c in checks.items()}}, indent=2))
        return 0
    print(f"{'seed':>4} {'1st qtr':>7} {'last qtr':>8} {'rise':>7} {'zero-std':>8} "
          f"{'SFT fmt':>7} {'SFT acc':>7} {'S1 acc':>7} {'SFT smp':>7} {'S1 smp':>7} {'min':>5}")
    for r in rows:
        print(f"{r['seed']:>4} {r['first']:>7.3f} {r['last']:>8.3f} {r['reward_rise']:>+7.3f} "
              f"{r['zero_std']:>8.3f} {r['sft_format']:>7.3f} {r['sft_acc']:>7.3f} "
              f"{r['stage1_acc']:>7.3f} {r['sft_sampled']:>7.3f} {r['stage1_sampled']:>7.3f} "
              f"{r['minutes']:>5.1f}")
    for name, (mean, std, se, verdict) in checks.items():
        print(f"{name} rise: {mean:+.3f} ± {std:.3f} (std over {len(rows)} seeds; "
              f"standard error {se:.3f}): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
