"""Stage-1 curves of a real-model run, from the trainer's log: reward, output accuracy and the
share of groups with no reward spread (no GRPO signal) per step, one line per arm.

Run ``python bench/real_model_curves.py LOG --out docs/img/real-model-stage1.png`` on the
standard error of ``stepreward ablation`` (its ``== ARM seed S`` lines separate
the runs) or of one recipe run; it also prints a table of per-arm means.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

_RUN = re.compile(r"== (\S+) seed (\d+)")
_STEP = re.compile(r"\{'loss': [^{}]*\}")
KEYS = ("rewards/stepreward_execution/mean", "stepreward_execution/output_accuracy",
        "stepreward_execution/accuracy", "frac_reward_zero_std", "step_time")


def read_runs(text: str) -> dict[str, list[dict[str, float]]]:
    """Per run (``arm/seed``, or ``run`` before any marker), its logged GRPO steps.

    Example:
        >>> read_runs("== a seed 0\\n{'loss': '0.1', 'step_time': '2.0'}")["a/0"][0]["step_time"]
        2.0
    """
    runs: dict[str, list[dict[str, float]]] = {}
    name = "run"
    # Progress bars end their updates with \r: split on both so each record stands alone.
    for chunk in re.split(r"[\r\n]", text):
        marker = _RUN.search(chunk)
        if marker:
            name = f"{marker.group(1)}/{marker.group(2)}"
            continue
        for m in _STEP.finditer(chunk):
            try:
                raw = ast.literal_eval(m.group(0))
            except (ValueError, SyntaxError):
                continue
            if "step_time" not in raw:  # SFT lines have no step time
                continue
            runs.setdefault(name, []).append(
                {k: float(v) for k, v in raw.items() if k in KEYS})
    return runs


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("log", type=Path)
    ap.add_argument("--out", type=Path, help="PNG to write (matplotlib)")
    args = ap.parse_args(argv)
    runs = read_runs(args.log.read_text(errors="replace"))
    if not runs:
        print("no GRPO steps found in the log", file=sys.stderr)
        return 1
    print(f"{'run':24} {'steps':>5} {'reward':>7} {'output':>7} {'all':>7} "
          f"{'no-signal':>9} {'step s':>7}")
    for name, steps in runs.items():
        col = {k: [s[k] for s in steps if k in s] for k in KEYS}
        print(f"{name:24} {len(steps):5d} {_mean(col[KEYS[0]]):7.3f} {_mean(col[KEYS[1]]):7.3f} "
              f"{_mean(col[KEYS[2]]):7.3f} {_mean(col[KEYS[3]]):9.3f} {_mean(col[KEYS[4]]):7.1f}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        titles = ("execution reward (mean of the step)", "output accuracy (training samples)",
                  "groups without reward spread")
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        for ax, key, title in zip(axes, (KEYS[0], KEYS[1], KEYS[3]), titles, strict=True):
            for name, steps in runs.items():
                ax.plot([s.get(key, float("nan")) for s in steps], label=name, alpha=0.8)
            ax.set_title(title)
            ax.set_xlabel("GRPO step")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=80)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
