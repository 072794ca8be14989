"""Dataset building: samples with splits, trainer-ready rows, SFT data narrated from traces."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward.questions._sample import sample_from_trace
from stepreward.synth._pipeline import Item, SynthStats, synthesize
from stepreward.types import Sample, Trace

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["BuildReport", "build_dataset", "narrate", "sft_record"]

SYSTEM_PROMPT = "You are an expert Python programmer who reasons carefully about execution."
MAX_NARRATED_STEPS = 40


def narrate(trace: Trace, max_steps: int = MAX_NARRATED_STEPS) -> str:
    """A step-by-step account of a run, written from the trace (correct by construction).

    One line per executed statement: its line number, its code and the values it set.
    Long runs keep the first ``max_steps`` statements and summarise the rest.

    Example:
        >>> from stepreward.types import Step, Trace, Value
        >>> v = Value(type_name="int", repr="2", literal=2, is_literal=True)
        >>> t = Trace(source="def f():\\n    x = 2\\n    return x", call="f()", status="ok",
        ...           result=v, steps=[Step(line=2, occurrence=1, func="f", depth=0, frame=0,
        ...                                 state_after={"x": v}, changed=("x",))])
        >>> print(narrate(t))
        Line 2 (in f): x = 2  ->  x = 2
        The call returns 2.
    """
    lines = trace.source.splitlines()
    out = []
    for step in trace.steps[:max_steps]:
        code = lines[step.line - 1].strip() if 0 < step.line <= len(lines) else ""
        changes = ", ".join(f"{n} = {step.state_after[n].repr}" for n in step.changed)
        text = f"Line {step.line} (in {step.func}): {code}"
        out.append(f"{text}  ->  {changes}" if changes else text)
    hidden = len(trace.steps) - max_steps
    if hidden > 0:
        out.append(f"... {hidden} more statements run in the same way ...")
    if trace.result is not None:
        out.append(f"The call returns {trace.result.repr}.")
    return "\n".join(out)


def sft_record(item: Item, task: str, seed: int) -> dict[str, Any]:
    """An SFT example for output or input prediction, with a narrated gold completion."""
    kinds = ("output",) if task == "output" else ("input",)
    sample = sample_from_trace(item.trace, kinds, max_per_kind=1, seed=seed)
    if not sample.questions:
        raise ValueError(f"no {task} question for this item")
    reasoning = narrate(item.trace)
    if task == "input":
        reasoning = (f"Try the call {item.call}:\n{reasoning}\nSo these arguments give the "
                     "required value.")
    completion = (f"<reasoning>\n{reasoning}\n</reasoning>\n"
                  f"{sample.answer_text(sample.gold_answers())}")
    return {"task": task, "prompt": sample.prompt, "completion": completion,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                         {"role": "user", "content": sample.prompt},
                         {"role": "assistant", "content": completion}],
            "sample": json.dumps(sample.to_row(), ensure_ascii=False), "level": item.level,
            "program_id": item.program_id}


@dataclass
class BuildReport:
    """What :func:`build_dataset` wrote and why candidates were rejected."""

    out_dir: str
    files: dict[str, int] = field(default_factory=dict)  # file -> rows
    per_level: dict[int, int] = field(default_factory=dict)
    feature_means: dict[int, dict[str, float]] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def table(self) -> str:
        keys = ["statements", "nesting_depth", "branch_points", "trace_length", "methods"]
        head = f"{'level':>5} {'samples':>8} " + " ".join(f"{k:>14}" for k in keys)
        rows = [head, "-" * len(head)]
        for lv in sorted(self.per_level):
            means = self.feature_means.get(lv, {})
            rows.append(f"{lv:>5} {self.per_level[lv]:>8} "
                        + " ".join(f"{means.get(k, 0.0):>14.1f}" for k in keys))
        rows.append("")
        rows.append("rejected candidates: " + (", ".join(
            f"{k}: {v}" for k, v in sorted(self.rejects.items(), key=lambda kv: -kv[1]))
            or "none"))
        rows.append("files: " + ", ".join(f"{k} ({v} rows)" for k, v in self.files.items()))
        return "\n".join(rows)


def _row(item: Item, sample: Sample) -> dict[str, Any]:
    row = sample.to_row()
    c = item.constraints
    row.update({
        "messages": [{"role": "user", "content": sample.prompt}],
        "level": item.level, "type": c.type, "method": c.method,
        "constraints": json.dumps(c.model_dump(mode="json")),
        "features": json.dumps(item.features), "program_id": item.program_id,
        "label": json.dumps(sample.to_row(), ensure_ascii=False),
    })
    return row


def _progress(done: int, total: int, start: float, enabled: bool) -> None:
    if not enabled or total <= 0:
        return
    frac = done / total
    bar = "#" * int(frac * 30)
    rate = done / max(1e-9, time.monotonic() - start)
    sys.stderr.write(f"\r[{bar:<30}] {done}/{total} samples  {rate:.0f}/s")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _write(path: Path, rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        return
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise RuntimeError("parquet output needs pyarrow: pip install pyarrow "
                           "(or use --format jsonl)") from None
    pq.write_table(pa.Table.from_pylist(rows), path)


def build_dataset(n: int, out_dir: str | os.PathLike[str], *,
                  levels: Sequence[int] = (1, 2, 3, 4, 5, 6), seed: int = 0,
                  kinds: Sequence[str] = ("output", "next_statement", "state"),
                  max_per_kind: int = 5, validation_fraction: float = 0.05,
                  fmt: str = "jsonl", sft: int = 0, sandbox: Sandbox | None = None,
                  progress: bool = False) -> BuildReport:
    """Synthesize ``n`` samples and write train/validation splits (and SFT data).

    Splits are by program (no program in both), chosen from a hash of the program, so they
    do not depend on ``n``. ``sft`` adds that many output- and input-prediction examples with
    narrated gold completions (``sft.<fmt>``), taken from programs outside the RL splits.

    Example:
        >>> import tempfile
        >>> report = build_dataset(6, tempfile.mkdtemp(), levels=[1, 3], seed=0)
        >>> sum(report.per_level.values())
        6
    """
    if fmt not in ("jsonl", "parquet"):
        raise ValueError("fmt must be 'jsonl' or 'parquet'")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError("validation_fraction must be in [0, 1)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    stats = SynthStats()
    train: list[dict[str, Any]] = []
    valid: list[dict[str, Any]] = []
    sft_rows: list[dict[str, Any]] = []
    per_level: Counter[int] = Counter()
    sums: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rl_programs: set[str] = set()
    sft_programs: set[str] = set()
    total = n + 2 * sft
    last = 0.0
    # SFT examples come from programs that are in neither RL split.
    stream = synthesize(n + 2 * sft + 64, levels, seed, sandbox=sandbox, stats=stats)
    for k, item in enumerate(stream):
        rl_done = len(train) + len(valid) >= n
        sft_done = len(sft_rows) >= 2 * sft
        if rl_done and sft_done:
            break
        if not rl_done and item.program_id not in sft_programs:
            sample = sample_from_trace(item.trace, kinds, max_per_kind, seed + k)
            if not sample.questions:
                stats.rejects["no question"] += 1
                continue
            rl_programs.add(item.program_id)
            bucket = int(item.program_id[:8], 16) / 0xFFFFFFFF
            (valid if bucket < validation_fraction else train).append(_row(item, sample))
            per_level[item.level] += 1
            for key, v in item.features.items():
                sums[item.level][key] += v
        elif not sft_done and item.program_id not in rl_programs:
            sft_programs.add(item.program_id)
            for task in ("output", "input"):
                if len(sft_rows) < 2 * sft:
                    try:
                        sft_rows.append(sft_record(item, task, seed + k))
                    except ValueError:
                        stats.rejects[f"no {task} question"] += 1
        done = len(train) + len(valid) + len(sft_rows)
        if progress and time.monotonic() - last > 0.2:
            last = time.monotonic()
            _progress(done, total, start, progress)
    _progress(total, total, start, progress)
    report = BuildReport(out_dir=str(out), rejects=dict(stats.rejects),
                         per_level=dict(sorted(per_level.items())))
    report.feature_means = {lv: {k: v / per_level[lv] for k, v in f.items()}
                            for lv, f in sums.items()}
    for name, rows in (("train", train), ("validation", valid), ("sft", sft_rows)):
        if name == "sft" and not sft:
            continue
        path = out / f"{name}.{fmt}"
        _write(path, rows, fmt)
        report.files[path.name] = len(rows)
    report.seconds = time.monotonic() - start
    (out / "summary.json").write_text(json.dumps({
        "n": n, "levels": list(levels), "seed": seed, "kinds": list(kinds),
        "files": report.files, "per_level": report.per_level,
        "feature_means": report.feature_means, "rejects": report.rejects}, indent=2,
        sort_keys=True))
    return report
