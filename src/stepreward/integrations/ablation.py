"""Stepwise vs output-only rewards: stage-1 GRPO arms from one SFT checkpoint, several seeds.

Run ``python -m stepreward.integrations.ablation integrations/trl/ablation-cpu.yaml``. The
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
from typing import Any

__all__ = ["compare", "run_ablation"]

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


def run_ablation(config: str | Path, out_dir: str | Path | None = None,
                 seeds: list[int] | None = None,
                 arms: list[str] | None = None) -> dict[str, Any]:
    """Run the ablation of ``config``; returns per-arm, per-seed results and the report.

    Example:
        >>> run_ablation("integrations/trl/ablation-cpu.yaml")  # doctest: +SKIP
    """
    import yaml

    from stepreward.integrations import recipe
    from stepreward.types import Sample

    config = Path(config)
    with open(config, encoding="utf-8") as f:
        ab = yaml.safe_load(f)
    base = recipe._load_config(config.parent / ab["recipe"])
    for key in ("data", "sft", "stage1", "eval", "model", "threads"):
        if key in ab:
            base[key] = _merge(base.get(key), ab[key])
    out = Path(out_dir or ab.get("output_dir", "runs/ablation"))
    shared = out / "shared"
    seeds = seeds if seeds is not None else list(ab.get("seeds", [0, 1, 2]))
    all_arms: dict[str, Any] = ab["arms"]
    names = arms or list(all_arms)
    unknown = [a for a in names if a not in all_arms]
    if unknown:
        raise ValueError(f"unknown arms {unknown}; the config has {list(all_arms)}")
    t0 = time.monotonic()
    if base.get("threads"):
        import torch

        torch.set_num_threads(int(base["threads"]))
    if not (shared / "sft" / "config.json").exists():
        recipe.run_recipe(base, ("data", "sft"), shared)
    e = base.get("eval", {})
    rows = recipe._read_jsonl(shared / "data" / "validation.jsonl")
    samples = [Sample.from_row(json.loads(r["label"])) for r in rows[: e.get("n", 64)]]
    sft_result = recipe._eval_checkpoint(str(shared / "sft"), samples, [], e, "normalized",
                                         dtype=e.get("dtype"))
    if e.get("bench"):  # the real benchmarks too (CRUXEval-O for the method's claim)
        sft_result.update(recipe._bench_eval(base, shared, "sft", str(shared / "sft")))
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for arm in names:
        for seed in seeds:
            run = out / arm / f"seed{seed}"
            if (run / "result.json").exists():
                results.setdefault(arm, {})[seed] = json.loads((run / "result.json").read_text())
                continue
            print(f"== {arm} seed {seed}", file=sys.stderr, flush=True)
            run.mkdir(parents=True, exist_ok=True)
            if not (run / "data").exists():
                (run / "data").symlink_to((shared / "data").resolve())
            cfg = {**base, "seed": seed,
                   "stage1": {**base["stage1"], "reward": all_arms[arm]}}
            s = time.monotonic()
            train = recipe._stage1(cfg, run, str(shared / "sft"))
            held = recipe._eval_checkpoint(str(run / "stage1"), samples, [], e, "normalized",
                                           dtype=e.get("dtype"))
            if e.get("bench"):
                held.update(recipe._bench_eval(cfg, run, "stage1", str(run / "stage1")))
            _with_trace(held, samples)
            result = {"train": train, "eval": held, "seconds": round(time.monotonic() - s, 1)}
            (run / "result.json").write_text(json.dumps(result, indent=2))
            shutil.rmtree(run / "stage1", ignore_errors=True)  # keep the disk small
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="stepreward-ablation", description=__doc__)
    ap.add_argument("config", help="ablation YAML (integrations/trl/ablation-cpu.yaml)")
    ap.add_argument("--out", help="output folder (default: the config's output_dir)")
    ap.add_argument("--seeds", help="comma-separated seeds (default: the config's)")
    ap.add_argument("--arms", help="comma-separated arms (default: all of the config's)")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    arms = [a.strip() for a in args.arms.split(",")] if args.arms else None
    summary = run_ablation(args.config, args.out, seeds, arms)
    print(summary["report"])
    print(f"total: {summary['minutes']} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
