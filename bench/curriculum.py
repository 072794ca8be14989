"""Stage 1 with and without the online curriculum, at equal compute, over seeds.

Run: ``python bench/curriculum.py [--config integrations/trl/tiny-cpu.yaml] [--seeds 0 1 2]
[--levels 1 2] [--curriculum '{"band": [0.3, 0.7], "filter_uniform": true}'] [--json]``.

For each seed the recipe's data and SFT stages run once; then stage 1 and the held-out
eval run twice from the same SFT checkpoint: once on the config's rows as they are, once
with ``stage1.curriculum``. Both arms take the same optimizer steps with the same batch,
generations and completion length (equal compute). Reported per arm: the mean stage-1
execution reward over training, the mean of its last quarter, and the held-out eval reward
(validation rows, by program, greedy decoding).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from stepreward.recipe import run_recipe

ROOT = Path(__file__).resolve().parents[1]


def _stage1_rewards(folder: Path) -> list[float]:
    out = []
    for line in (folder / "metrics.jsonl").read_text().splitlines():
        entry = json.loads(line)
        value = entry.get("rewards/stepreward_execution/mean")
        if isinstance(value, (int, float)):
            out.append(float(value))
    return out


def run(config: Path, seeds: list[int], curriculum: dict[str, Any], work: Path,
        stage1_steps: int | None, levels: list[int] | None = None, *,
        name: str = "curriculum", baseline: bool = True) -> dict[str, Any]:
    base = yaml.safe_load(config.read_text())
    arms = (["baseline"] if baseline else []) + [name]
    results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    for seed in seeds:
        cfg = json.loads(json.dumps(base))
        cfg["seed"] = seed
        cfg.setdefault("data", {})["seed"] = seed
        if levels:
            cfg["data"]["levels"] = levels
        if stage1_steps:
            cfg["stage1"].setdefault("config", {})["max_steps"] = stage1_steps
        if not cfg["stage1"].get("config", {}).get("max_steps"):
            raise SystemExit("stage1.config.max_steps must be set (equal compute)")
        shared = work / f"seed{seed}" / "shared"
        path = work / f"seed{seed}" / "config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(cfg))
        stages = tuple(s for s in (("data", "sft") if "sft" in cfg else ("data",))
                       if not (shared / s).exists() or (s == "sft"
                       and not (shared / s / "config.json").exists()))
        if stages:  # a rerun reuses the data and SFT of an earlier one
            run_recipe(path, stages, shared)
        for arm in arms:
            arm_cfg = json.loads(json.dumps(cfg))
            if arm != "baseline":
                arm_cfg["stage1"]["curriculum"] = {**curriculum, "seed": seed}
            folder = work / f"seed{seed}" / arm
            if folder.exists():
                shutil.rmtree(folder)
            shutil.copytree(shared, folder)
            arm_path = folder / "config.yaml"
            arm_path.write_text(yaml.safe_dump(arm_cfg))
            t0 = time.monotonic()
            summary = run_recipe(arm_path, ("stage1", "eval"), folder)
            rewards = _stage1_rewards(folder / "stage1")
            tail = rewards[-max(1, len(rewards) // 4):]
            results[arm].append({
                "seed": seed, "steps": summary["stage1"]["steps"],
                "train_reward": statistics.fmean(rewards) if rewards else float("nan"),
                "train_reward_last_quarter": statistics.fmean(tail) if tail else float("nan"),
                "heldout_reward": summary["eval"].get("mean_reward",
                                                      summary["eval"].get("reward")),
                "heldout_accuracy": summary["eval"].get("accuracy"),
                "heldout_samples": summary["eval"]["samples"],
                "seconds": round(time.monotonic() - t0, 1),
                **({"shares": summary["stage1"].get("curriculum_shares"),
                    "filtered": summary["stage1"].get("curriculum_filtered")}
                   if arm != "baseline" else {})})
            print(f"seed {seed} {arm}: {results[arm][-1]}", file=sys.stderr, flush=True)
    means = {arm: {k: statistics.fmean(r[k] for r in rs)
                   for k in ("train_reward", "train_reward_last_quarter", "heldout_reward",
                             "heldout_accuracy")}
             for arm, rs in results.items()}
    return {"config": str(config), "seeds": seeds, "curriculum": curriculum,
            "levels": levels or base.get("data", {}).get("levels"),
            "runs": results, "means": means}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=str(ROOT / "integrations" / "trl" / "tiny-cpu.yaml"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--curriculum", default='{"band": [0.3, 0.7], "min_share": 0.1, '
                                            '"filter_uniform": true}')
    ap.add_argument("--stage1-steps", type=int, default=None,
                    help="override stage1.config.max_steps (both arms)")
    ap.add_argument("--levels", type=int, nargs="+", default=None,
                    help="override data.levels (both arms); the curriculum needs two or more")
    ap.add_argument("--name", default="curriculum", help="the curriculum arm's folder name")
    ap.add_argument("--no-baseline", action="store_true",
                    help="run only the curriculum arm (another run made the baseline)")
    ap.add_argument("--work", default="runs/bench-curriculum")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out = run(Path(args.config), args.seeds, json.loads(args.curriculum), Path(args.work),
              args.stage1_steps, args.levels, name=args.name,
              baseline=not args.no_baseline)
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(f"{'arm':<14} {'seed':>4} {'train':>7} {'last1/4':>8} {'held-out':>9} {'acc':>6}")
    for arm, rs in out["runs"].items():
        for r in rs:
            print(f"{arm:<14} {r['seed']:>4} {r['train_reward']:>7.3f} "
                  f"{r['train_reward_last_quarter']:>8.3f} {r['heldout_reward']:>9.3f} "
                  f"{r['heldout_accuracy'] or 0.0:>6.3f}")
    for arm, m in out["means"].items():
        print(f"{arm:<14} mean {m['train_reward']:>7.3f} {m['train_reward_last_quarter']:>8.3f} "
              f"{m['heldout_reward']:>9.3f} {m['heldout_accuracy']:>6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
