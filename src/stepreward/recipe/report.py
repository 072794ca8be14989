"""The recipe's reports: each stage's held-out results against the previous stage's, in words
(paired verdicts beyond noise), the learning chart, and the driver's per-stage summary."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from stepreward._jsonl import read_jsonl

__all__ = ["eval_table", "kind_columns", "paired_verdict", "plot_learning", "stage_table",
           "verdict"]

# Where the built-in kinds' columns go; a kind registered later follows them.
_COLUMN_ORDER = ("output", "input", "next_statement", "state", "coverage", "branch")


def kind_columns() -> tuple[str, ...]:
    """The question kinds a table or chart has a column for (when measured): every kind of
    the registry, the built-in ones first in their usual order.

    Example:
        >>> kind_columns()[:4]
        ('output', 'input', 'next_statement', 'state')
    """
    from stepreward.questions import KINDS

    return (*[k for k in _COLUMN_ORDER if k in KINDS],
            *[k for k in KINDS if k not in _COLUMN_ORDER])


def verdict(before: float, after: float, n: int) -> str:
    """In words, whether ``after`` beats ``before`` beyond the noise of ``n`` graded items
    (twice the standard error of a difference of two proportions).

    Example:
        >>> verdict(0.2, 0.5, 300)
        'improved (+0.300, noise ±0.078)'
    """
    p = min(max((before + after) / 2, 1.0 / max(1, n)), 1 - 1.0 / max(1, n))
    noise = 2 * math.sqrt(2 * p * (1 - p) / max(1, n))
    delta = after - before
    if delta > noise:
        return f"improved ({delta:+.3f}, noise ±{noise:.3f})"
    if delta < -noise:
        return f"got worse ({delta:+.3f}, noise ±{noise:.3f})"
    return f"no clear change ({delta:+.3f}, noise ±{noise:.3f})"


def paired_verdict(before: list[float], after: list[float]) -> str:
    """In words, whether per-item scores ``after`` beat ``before`` on the same held-out items
    beyond noise (twice the standard error of the mean paired difference).

    Example:
        >>> paired_verdict([0.0, 0.5, 1.0], [0.0, 0.5, 1.0])
        'no clear change (+0.000, noise ±0.000)'
    """
    n = len(before)
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    delta = sum(diffs) / n
    var = sum((d - delta) ** 2 for d in diffs) / max(1, n - 1)
    noise = 2 * math.sqrt(var / n)
    if delta > noise and delta > 0:
        return f"improved ({delta:+.3f}, noise ±{noise:.3f})"
    if delta < -noise and delta < 0:
        return f"got worse ({delta:+.3f}, noise ±{noise:.3f})"
    return f"no clear change ({delta:+.3f}, noise ±{noise:.3f})"


def _accuracy_verdict(prev: dict[str, Any], r: dict[str, Any]) -> str:
    """Greedy accuracy (and sampled accuracy when measured) against the previous stage;
    paired over the same held-out samples when their per-sample scores are known."""
    def one(key: str, items: str) -> str:
        a, b = prev.get(items), r.get(items)
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) > 1:
            return paired_verdict(a, b)
        return verdict(prev.get(key, 0.0), r.get(key, 0.0), int(r.get("questions", 1)))

    words = "held-out accuracy: " + one("accuracy", "per_sample")
    if "sampled" in prev and "sampled" in r:
        words += "; sampled: " + one("sampled", "per_sample_sampled")
    return words


def eval_table(results: dict[str, dict[str, Any]],
               training: dict[str, dict[str, Any]] | None = None) -> str:
    """The per-stage table of held-out results, with a verdict in words per stage.

    Stage 2 is judged on its own objective (the pass rate on held-out code tasks), the
    other stages on the accuracy over all held-out execution questions.

    Example:
        >>> print(eval_table({"base": {"accuracy": 0.0, "questions": 90}}).splitlines()[0][:5])
        stage
    """
    training = training or {}
    cols = [k for k in (*kind_columns(), "accuracy", "sampled", "format", "code_pass_rate",
                        "code_format", "cruxeval-o", "cruxeval-i", "cruxeval-trace_questions")
            if any(k in r for r in results.values())]
    short = {"next_statement": "next", "code_pass_rate": "code pass", "code_format":
             "code fmt", "cruxeval-o": "crux-O", "cruxeval-i": "crux-I",
             "cruxeval-trace_questions": "crux-trace"}
    head = f"{'stage':<7} " + " ".join(f"{short.get(c, c):>9}" for c in cols)
    head += f" {'train reward (1st->last quarter)':>32}  verdict"
    lines = [head, "-" * len(head)]
    prev: dict[str, Any] | None = None
    for name, r in results.items():
        cells = " ".join(f"{r[c]:>9.3f}" if isinstance(r.get(c), (int, float))
                         else f"{'-':>9}" for c in cols)
        t = training.get(name, {})
        trend = (f"{t['reward_first_quarter']:.3f} -> {t['reward_last_quarter']:.3f}"
                 if "reward_first_quarter" in t else "")
        if prev is None:
            words = "starting point"
        elif name == "stage2" and "code_pass_rate" in r and "code_pass_rate" in prev:
            a, b = prev.get("per_task"), r.get("per_task")
            words = "code tests: " + (
                paired_verdict(a, b) if isinstance(a, list) and isinstance(b, list)
                and len(a) == len(b) > 1 else
                verdict(prev["code_pass_rate"], r["code_pass_rate"],
                        int(r.get("code_tasks", 1))))
        else:
            words = _accuracy_verdict(prev, r)
        if trend:
            q1, q4 = t["reward_first_quarter"], t["reward_last_quarter"]
            words += f"; training reward {'rose' if q4 > q1 else 'did not rise'}"
        lines.append(f"{name:<7} {cells} {trend:>32}  {words}")
        prev = r
    return "\n".join(lines)


def plot_learning(folder: Path, out: Path, results: dict[str, dict[str, Any]]) -> None:
    """``learning.png`` in ``folder``: each GRPO stage's training reward per step (with a
    running mean) beside the held-out accuracy of every checkpoint (needs matplotlib).

    Example:
        >>> plot_learning(Path("runs/demo/eval"), Path("runs/demo"), results)  # doctest: +SKIP
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for stage in ("stage1", "stage2"):
        path = out / stage / "metrics.jsonl"
        if not path.exists():
            continue
        pts = [(e.get("step", i), e["reward"]) for i, e in enumerate(read_jsonl(path))
               if isinstance(e.get("reward"), (int, float))]
        if pts:
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            line = left.plot(xs, ys, marker=".", alpha=0.35, label=f"{stage} (per step)")
            w = max(1, len(ys) // 8)  # a running mean: a step holds only a few prompts
            smooth = [sum(ys[max(0, i - w + 1):i + 1]) / len(ys[max(0, i - w + 1):i + 1])
                      for i in range(len(ys))]
            left.plot(xs, smooth, color=line[0].get_color(), linewidth=2.5,
                      label=f"{stage} (running mean of {w})")
    left.set_xlabel("step")
    left.set_ylabel("mean reward of the step's completions")
    left.set_title("training reward per step")
    left.legend(fontsize=8)
    cols = [k for k in (*kind_columns(), "accuracy", "sampled", "code_pass_rate")
            if any(k in r for r in results.values())]
    width = 0.8 / max(1, len(results))
    for j, (name, r) in enumerate(results.items()):
        right.bar([i + j * width for i in range(len(cols))],
                  [float(r.get(c) or 0.0) for c in cols], width, label=name)
    right.set_xticks([i + 0.4 - width / 2 for i in range(len(cols))])
    right.set_xticklabels([c.replace("_", " ") for c in cols], fontsize=8)
    right.set_ylim(0, 1)
    right.set_title("held-out accuracy per stage")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "learning.png", dpi=80)
    plt.close(fig)


def stage_table(summary: dict[str, dict[str, Any]]) -> str:
    """The driver's closing table: each stage's seconds and summary, then the eval table.

    Example:
        >>> print(stage_table({"data": {"samples": 8, "seconds": 1.0}}).splitlines()[2])
        data          1.0  samples=8
    """
    lines = [f"{'stage':<8} {'seconds':>8}  details", "-" * 72]
    for stage, info in summary.items():
        details = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in info.items() if k not in ("seconds", "table"))
        lines.append(f"{stage:<8} {info['seconds']:>8}  {details}")
    if "table" in summary.get("eval", {}):
        lines += ["", "held-out evaluation of each stage's checkpoint:",
                  summary["eval"]["table"]]
    lines.append(f"total: {sum(float(i['seconds']) for i in summary.values()):.0f} s")
    return "\n".join(lines)
