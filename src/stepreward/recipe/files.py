"""The recipe's files: JSON Lines rows written as they are read, and each stage's metrics log
with its reward chart."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from stepreward._jsonl import read_jsonl

__all__ = ["read_jsonl", "write_jsonl", "write_metrics"]


def write_jsonl(path: Path, rows: list[Any]) -> None:
    """One JSON object per line: pydantic models as their JSON, mappings as they are.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "rows.jsonl"
        >>> write_jsonl(path, [{"a": 1}])
        >>> read_jsonl(path)
        [{'a': 1}]
    """
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write((r.model_dump_json() if hasattr(r, "model_dump_json")
                     else json.dumps(r, ensure_ascii=False)) + "\n")


def write_metrics(folder: Path, history: list[dict[str, Any]]) -> None:
    """A trainer's log history as ``metrics.jsonl``, and ``rewards.png`` (each reward's mean,
    and the loss, per step) when matplotlib is installed.

    Example:
        >>> write_metrics(Path("runs/demo/sft"), trainer.state.log_history)  # doctest: +SKIP
    """
    with (folder / "metrics.jsonl").open("w") as f:
        for entry in history:
            f.write(json.dumps(entry) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    keys = sorted({k for e in history for k in e if k.startswith("rewards/")
                   and k.endswith("/mean")} | ({"loss"} if any("loss" in e for e in history)
                                               else set()))
    if not keys:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in keys:
        pts = [(e.get("step", i), e[key]) for i, e in enumerate(history)
               if key in e and isinstance(e[key], (int, float)) and math.isfinite(e[key])]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=key)
    ax.set_xlabel("step")
    ax.set_title(folder.name)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "rewards.png", dpi=80)
    plt.close(fig)
