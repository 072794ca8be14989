"""Stepwise vs output-only rewards: stage-1 GRPO arms from one SFT checkpoint, several seeds.

Run ``stepreward ablation integrations/trl/ablation-cpu.yaml``. The
config names a recipe config (``recipe:``) whose data and SFT stages are run once; each arm
(a stage-1 reward) is then trained from that same SFT checkpoint with each seed, on the same
rows, for the same number of steps, and evaluated on the same held-out samples. The report
gives held-out accuracy on output questions and on trace questions (next statement, state)
as mean ± std over seeds, and says whether each difference to the first arm is beyond noise.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stepreward.recipe.schema import AblationConfig, RecipeConfig

__all__ = ["TRACE_KINDS", "add_arguments", "compare", "load_ablation",
           "main", "run", "run_ablation"]

TRACE_KINDS = ("next_statement", "state")


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in extra.items()}}
    return extra


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / max(1, n)
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var)


def compare(a: list[float], b: list[float]) -> str:
    """Whether ``b`` differs from ``a`` beyond noise: the difference of the means against
    twice its standard error (Welch's, from the seeds' spread).

    Example:
        >>> compare([0.1, 0.2, 0.15], [0.5, 0.6, 0.55])
        'higher, beyond noise (+0.400 vs ±0.082)'
    """
    ma, sa = _mean_std(a)
    mb, sb = _mean_std(b)
    se = math.sqrt(sa**2 / max(1, len(a)) + sb**2 / max(1, len(b)))
    delta = mb - ma
    if len(a) < 2 or len(b) < 2:
        return f"{delta:+.3f} (one seed: no noise estimate)"
    if abs(delta) > 2 * se:
        word = "higher" if delta > 0 else "lower"
        return f"{word}, beyond noise ({delta:+.3f} vs ±{2 * se:.3f})"
    return f"within noise ({delta:+.3f} vs ±{2 * se:.3f})"


def _trace_accuracy(result: dict[str, Any], samples: list[Any], prefix: str = "") -> float:
    # Weighted by the number of questions of each trace kind.
    num = den = 0.0
    for kind in TRACE_KINDS:
        count = sum(1 for s in samples for q in s.questions if q.kind == kind)
        if prefix + kind in result:
            num += result[prefix + kind] * count
            den += count
    return num / den if den else 0.0


def _with_trace(result: dict[str, Any], samples: list[Any]) -> dict[str, Any]:
    result["trace"] = _trace_accuracy(result, samples)
    if "sampled" in result:
        result["sampled_trace"] = _trace_accuracy(result, samples, "sampled_")
    return result


def load_ablation(config: str | Path) -> tuple[AblationConfig, RecipeConfig]:
    """An ablation config file, checked, and the recipe config it runs: the file named by
    ``recipe`` with the ablation's sections overlaid key by key. A misspelled key in either
    is a ValueError that names it.

    Example:
        >>> ab, base = load_ablation("integrations/trl/ablation-cpu.yaml")  # doctest: +SKIP
        >>> list(ab.arms), base.stage1.format_reward  # doctest: +SKIP
        (['output_only', 'stepwise', 'stepwise_no_gate'], False)
    """
    import yaml

    from stepreward.recipe.schema import (
        AblationConfig,
        load_config,
        validate_recipe_config,
        validate_section,
    )

    config = Path(config)
    with open(config, encoding="utf-8") as f:
        ab = validate_section(AblationConfig, yaml.safe_load(f), str(config))
    raw = load_config(config.parent / ab.recipe)
    for key, value in ab.overlays().items():
        raw[key] = _merge(raw.get(key), value)
    return ab, validate_recipe_config(raw, str(config))


def run_ablation(config: str | Path, out_dir: str | Path | None = None,
                 seeds: list[int] | None = None,
                 arms: list[str] | None = None) -> dict[str, Any]:
    """Run the ablation of ``config``; returns per-arm, per-seed results and the report.

    Example:
        >>> run_ablation("integrations/trl/ablation-cpu.yaml")  # doctest: +SKIP
    """
    from stepreward._jsonl import read_jsonl
    from stepreward.recipe.driver import run_recipe
    from stepreward.recipe.evaluation import bench_checkpoint, evaluate_checkpoint
    from stepreward.recipe.grpo import train_stage1
    from stepreward.recipe.schema import ABLATION_EVAL_N
    from stepreward.types import Sample

    ab, base = load_ablation(config)
    out = Path(out_dir or ab.output_dir)
    shared = out / "shared"
    seeds = seeds if seeds is not None else list(ab.seeds)
    all_arms: dict[str, Any] = ab.arms
    names = arms or list(all_arms)
    unknown = [a for a in names if a not in all_arms]
    if unknown:
        raise ValueError(f"unknown arms {unknown}; the config has {list(all_arms)}")
    t0 = time.monotonic()
    if base.threads:
        import torch

        torch.set_num_threads(int(base.threads))
    if not (shared / "sft" / "config.json").exists():
        run_recipe(base, ("data", "sft"), shared)
    e = base.eval
    n = e.n if "n" in e.model_fields_set else ABLATION_EVAL_N
    rows = read_jsonl(shared / "data" / "validation.jsonl")
    samples = [Sample.from_row(json.loads(r["label"])) for r in rows[:n]]
    sft_result = evaluate_checkpoint(str(shared / "sft"), samples, [], e, "normalized",
                                     dtype=e.dtype)
    if e.bench:  # the real benchmarks too (CRUXEval-O for the method's claim)
        sft_result.update(bench_checkpoint(base, shared, "sft", str(shared / "sft")))
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for arm in names:
        for seed in seeds:
            arm_dir = out / arm / f"seed{seed}"
            if (arm_dir / "result.json").exists():
                done = json.loads((arm_dir / "result.json").read_text())
                results.setdefault(arm, {})[seed] = done
                continue
            print(f"== {arm} seed {seed}", file=sys.stderr, flush=True)
            arm_dir.mkdir(parents=True, exist_ok=True)
            if not (arm_dir / "data").exists():
                (arm_dir / "data").symlink_to((shared / "data").resolve())
            cfg = base.model_copy(update={
                "seed": seed,
                "stage1": base.stage1.model_copy(update={"reward": all_arms[arm]})})
            s = time.monotonic()
            train = train_stage1(cfg, arm_dir, str(shared / "sft"))
            held = evaluate_checkpoint(str(arm_dir / "stage1"), samples, [], e, "normalized",
                                       dtype=e.dtype)
            if e.bench:
                held.update(bench_checkpoint(cfg, arm_dir, "stage1", str(arm_dir / "stage1")))
            _with_trace(held, samples)
            result = {"train": train, "eval": held, "seconds": round(time.monotonic() - s, 1)}
            (arm_dir / "result.json").write_text(json.dumps(result, indent=2))
            shutil.rmtree(arm_dir / "stage1", ignore_errors=True)  # keep the disk small
            results.setdefault(arm, {})[seed] = result
    _with_trace(sft_result, samples)
    report = _report(results, sft_result, len(samples))
    summary = {"seeds": seeds, "arms": {a: all_arms[a] for a in names}, "sft": sft_result,
               "results": results, "report": report,
               "minutes": round((time.monotonic() - t0) / 60, 1)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "report.txt").write_text(report + "\n")
    return summary


def _report(results: dict[str, dict[int, dict[str, Any]]], sft: dict[str, Any],
            n: int) -> str:
    metrics = [("output", "held-out output accuracy (greedy)"),
               ("trace", "held-out trace accuracy (next statement + state, greedy)"),
               ("sampled_output", "held-out output accuracy (sampled)"),
               ("sampled_trace", "held-out trace accuracy (sampled)"),
               ("reward", "held-out reward (normalized preset, greedy)"),
               ("cruxeval-o", "CRUXEval-O pass@1 (greedy)"),
               ("cruxeval-i", "CRUXEval-I pass@1 (greedy)")]
    lines = [f"{n} held-out samples; SFT checkpoint: "
             + ", ".join(f"{key} {sft[key]:.3f}" for key, _ in metrics if key in sft), ""]
    arms = list(results)
    for key, title in metrics:
        if key not in sft:
            continue
        lines.append(title)
        first = [r["eval"].get(key, 0.0) for r in results[arms[0]].values()] if arms else []
        for arm in arms:
            vals = [r["eval"].get(key, 0.0) for r in results[arm].values()]
            mean, std = _mean_std(vals)
            versus = "" if arm == arms[0] else f"   vs {arms[0]}: {compare(first, vals)}"
            lines.append(f"  {arm:<18} {mean:.3f} ± {std:.3f}  "
                         f"(seeds: {', '.join(f'{v:.3f}' for v in vals)}){versus}")
        lines.append("")
    lines.append("training reward, first -> last quarter (each arm on its own reward scale)")
    for arm in arms:
        pairs = [(r["train"].get("reward_first_quarter", 0.0),
                  r["train"].get("reward_last_quarter", 0.0)) for r in results[arm].values()]
        lines.append(f"  {arm:<18} " + ", ".join(f"{a:.2f}->{b:.2f}" for a, b in pairs))
    return "\n".join(lines)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The ablation command's arguments (``stepreward ablation``).

    Example:
        >>> ap = argparse.ArgumentParser()
        >>> add_arguments(ap)
        >>> ap.parse_args(["ab.yaml", "--seeds", "0,1"]).seeds
        '0,1'
    """
    ap.add_argument("config", help="ablation YAML (integrations/trl/ablation-cpu.yaml)")
    ap.add_argument("--out", help="output folder (default: the config's output_dir)")
    ap.add_argument("--seeds", help="comma-separated seeds (default: the config's)")
    ap.add_argument("--arms", help="comma-separated arms (default: all of the config's)")


def run(args: argparse.Namespace) -> int:
    """Run the ablation command's parsed arguments and print the report.

    Example:
        >>> run(argparse.Namespace(config="ab.yaml", out=None, seeds="0",
        ...                        arms=None))  # doctest: +SKIP
        0
    """
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    arms = [a.strip() for a in args.arms.split(",")] if args.arms else None
    summary = run_ablation(args.config, args.out, seeds, arms)
    print(summary["report"])
    print(f"total: {summary['minutes']} min")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``stepreward ablation CONFIG [options]`` with ``argv`` as its arguments.

    Example:
        >>> main(["integrations/trl/ablation-cpu.yaml", "--seeds", "0"])  # doctest: +SKIP
        0
    """
    ap = argparse.ArgumentParser(prog="stepreward ablation", description=__doc__)
    add_arguments(ap)
    return run(ap.parse_args(argv))
