"""Dataset building: samples with splits, trainer-ready rows, SFT data narrated from traces."""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward._compat import keyword_only
from stepreward._progress import Progress
from stepreward.questions._sample import DEFAULT_KINDS, sample_from_trace
from stepreward.synth._pipeline import LEVELS, Item, SynthStats, synthesize
from stepreward.types import Sample, Trace

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox
    from stepreward.synth._backends import Generator
    from stepreward.synth._model import DifficultyFilter

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


@keyword_only("seed", "system_prompt")
def sft_record(item: Item, task: str, *, seed: int,
               system_prompt: str | None = SYSTEM_PROMPT) -> dict[str, Any]:
    """An SFT example for output or input prediction, with a narrated gold completion.

    ``messages`` starts with ``system_prompt`` — the same one the RL rows (and the recipes'
    eval prompts) carry, so training and test prompts match.
    """
    kinds = ("output",) if task == "output" else ("input",)
    sample = sample_from_trace(item.trace, kinds, max_per_kind=1, seed=seed,
                               on_incomplete="keep")
    if not sample.questions:
        raise ValueError(f"no {task} question for this item")
    reasoning = narrate(item.trace)
    if task == "input":
        reasoning = (f"Try the call {item.call}:\n{reasoning}\nSo these arguments give the "
                     "required value.")
    completion = (f"<reasoning>\n{reasoning}\n</reasoning>\n"
                  f"{sample.answer_text(sample.gold_answers())}")
    return {"task": task, "prompt": sample.prompt, "completion": completion,
            "messages": [*_messages(sample.prompt, system_prompt),
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
    per_split: dict[str, dict[int, int]] = field(default_factory=dict)  # split -> level -> rows
    shortfall: dict[str, dict[int, int]] = field(default_factory=dict)  # rows not found
    pass_counts: dict[int, int] = field(default_factory=dict)  # policy passes -> rows

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
        if self.per_split:
            rows.append("rows per level: " + "; ".join(
                f"{k} " + "/".join(str(v) for v in per.values())
                for k, per in self.per_split.items() if per))
        if self.pass_counts:
            rows.append("policy-model passes: " + ", ".join(
                f"{k}: {v}" for k, v in self.pass_counts.items()))
        if self.shortfall:
            rows.append(f"WARNING: not enough candidates passed the filters: {self.shortfall}")
        return "\n".join(rows)


def _row(item: Item, sample: Sample, system_prompt: str | None = SYSTEM_PROMPT,
         reward_options: dict[str, Any] | None = None) -> dict[str, Any]:
    row = sample.to_row()
    label = sample.to_row()
    if reward_options:
        label["reward_options"] = dict(reward_options)
    c = item.constraints
    row.update({
        "messages": _messages(sample.prompt, system_prompt),
        "level": item.level, "type": c.type, "method": c.method,
        "constraints": json.dumps(c.model_dump(mode="json")),
        "features": json.dumps(item.features), "program_id": item.program_id,
        "label": json.dumps(label, ensure_ascii=False),
    })
    return row


def _messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": prompt}]


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


def _shares(total: int, levels: Sequence[int]) -> dict[int, int]:
    """``total`` split over ``levels`` as evenly as integers allow (the first get the rest)."""
    base, extra = divmod(max(0, total), len(levels))
    return {lv: base + (i < extra) for i, lv in enumerate(levels)}


def _nth_is_input(j: int, share: float) -> bool:
    """Whether the ``j``-th row (0-based) of a split and level is an input-prediction row:
    spreads exactly ``floor(count * share)`` of them evenly through the rows."""
    return math.floor((j + 1) * share) > math.floor(j * share)


@dataclass
class _Verdict:
    keep: bool
    reason: str = ""
    pass_count: int | None = None
    solver_pass_count: int | None = None


class _Filters:
    """The two difficulty bounds, applied to a batch of candidate items at once."""

    def __init__(self, difficulty: Generator | None, flt: DifficultyFilter,
                 solver: Generator | str | None, solver_filter: DifficultyFilter,
                 max_tokens: int, seed: int) -> None:
        if isinstance(solver, str) and solver != "narration":
            raise ValueError("solver must be a backend, 'narration' or None, got "
                             f"{solver!r}")
        if difficulty is not None and not hasattr(difficulty, "generate"):
            raise TypeError("difficulty must be a backend with a generate() method "
                            "(stepreward.synth.Generator)")
        if solver is not None and not isinstance(solver, str) and not hasattr(solver,
                                                                              "generate"):
            raise TypeError("solver must be a backend with a generate() method, "
                            "'narration' or None")
        self.difficulty = difficulty
        self.flt = flt
        self.solver = solver
        self.solver_filter = solver_filter
        self.max_tokens = max_tokens
        self.seed = seed
        self.calls = 0

    @property
    def upper_bound(self) -> str | None:
        if self.solver is None:
            return None
        return "narration" if isinstance(self.solver, str) else "solver"

    def __call__(self, items: list[Item]) -> list[_Verdict]:
        from stepreward.synth._model import estimate_difficulty

        verdicts = [_Verdict(True) for _ in items]
        if self.difficulty is None and self.solver is None:
            return verdicts
        self.calls += 1
        samples: list[Sample | None] = []
        for k, it in enumerate(items):
            s = sample_from_trace(it.trace, ("output",), 1, seed=self.seed + it.index,
                                  on_incomplete="keep")
            samples.append(s if s.questions else None)
            if not s.questions:
                verdicts[k] = _Verdict(False, "no output question to measure difficulty")
        todo = [k for k, s in enumerate(samples) if s is not None]
        if self.difficulty is not None and todo:
            counts = estimate_difficulty([samples[k] for k in todo],  # type: ignore[misc]
                                         self.difficulty, flt=self.flt,
                                         max_tokens=self.max_tokens,
                                         seed=self.seed + 7919 * self.calls)
            for k, c in zip(todo, counts, strict=True):
                verdicts[k].pass_count = c
                if not self.flt.keep(c):
                    verdicts[k].keep = False
                    verdicts[k].reason = (f"too easy for the policy model (passes > "
                                          f"{self.flt.max_pass} of {self.flt.n})")
        todo = [k for k in todo if verdicts[k].keep]
        if self.solver == "narration":
            from stepreward.scoring._score import score

            for k in todo:
                record = sft_record(items[k], "output", seed=self.seed + items[k].index)
                sample = Sample.from_row(json.loads(record["sample"]))
                if score(record["completion"], sample).reward != 1.0:
                    verdicts[k].keep = False
                    verdicts[k].reason = "trace-grounded narration not verified"
        elif self.solver is not None and not isinstance(self.solver, str) and todo:
            counts = estimate_difficulty([samples[k] for k in todo],  # type: ignore[misc]
                                         self.solver, flt=self.solver_filter,
                                         max_tokens=self.max_tokens,
                                         seed=self.seed + 104729 * self.calls)
            for k, c in zip(todo, counts, strict=True):
                verdicts[k].solver_pass_count = c
                if c < 1:
                    verdicts[k].keep = False
                    verdicts[k].reason = "not solved by the solver (upper bound)"
        return verdicts


def build_dataset(n: int, out_dir: str | os.PathLike[str], *,
                  levels: Sequence[int] = (1, 2, 3, 4, 5, 6), seed: int = 0,
                  kinds: Sequence[str] = DEFAULT_KINDS,
                  max_per_kind: int = 5, validation_fraction: float = 0.05,
                  fmt: str = "jsonl", sft: int = 0, sandbox: Sandbox | None = None,
                  progress: bool = False, input_share: float = 0.0,
                  difficulty: Generator | None = None,
                  difficulty_filter: DifficultyFilter | None = None,
                  solver: Generator | str | None = None,
                  solver_filter: DifficultyFilter | None = None,
                  filter_max_tokens: int = 4096,
                  system_prompt: str | None = SYSTEM_PROMPT,
                  reward_options: dict[str, Any] | None = None,
                  max_candidates_per_row: int = 40) -> BuildReport:
    """Synthesize ``n`` RL samples and write train/validation splits (and SFT data).

    Levels get equal shares in every split (train, validation and SFT, up to one row of
    rounding). Splits are by program (no program in two of them); whether a program is held
    out for validation follows from a hash of the program, so it does not depend on ``n``.
    ``sft`` adds that many output- and input-prediction examples with narrated gold
    completions (``sft.<fmt>``), from programs outside the RL splits.

    ``input_share`` of the RL rows of each split and level (spread evenly) are
    input-prediction samples (the method's O/I items: 12k of its 32k); the others ask
    ``kinds``. An input row's prompt shows the program and the value returned, never the
    call's arguments, so ``kinds`` cannot mix ``input`` with other kinds (a ValueError).

    Difficulty control (the method's two bounds), applied to every candidate item:

    * ``difficulty``: a backend for the policy model. Each item's output question is sampled
      ``difficulty_filter.n`` times (default :data:`PAPER_FILTER`: 10 at T=1.0) and the item
      is kept when at most ``max_pass`` answers are right (graded exactly).
    * ``solver``: a stronger backend, kept when it answers at least once in
      ``solver_filter.n`` tries (default 1 at T=0.6, as the method's teacher); or
      ``"narration"``: kept when the trace-grounded narration, graded as a completion,
      scores full marks.

    Each row records ``pass_count``/``pass_n`` and ``solver_pass_count``/``upper_bound``
    (None when a bound is off). ``reward_options`` (e.g. ``{"preset": "execverify"}``) are
    written into each RL row's ``label``, where OpenRLHF's reward file and server read them.
    ``system_prompt`` opens the chat ``messages`` of every row, RL and SFT alike.

    Example:
        >>> import tempfile
        >>> report = build_dataset(6, tempfile.mkdtemp(), levels=[1, 3], seed=0)
        >>> report.per_level
        {1: 3, 3: 3}
    """
    from stepreward.synth._model import PAPER_FILTER, DifficultyFilter

    if fmt not in ("jsonl", "parquet"):
        raise ValueError("fmt must be 'jsonl' or 'parquet'")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError("validation_fraction must be in [0, 1)")
    if not 0.0 <= input_share <= 1.0:
        raise ValueError("input_share must be in [0, 1]")
    if isinstance(kinds, str):
        raise ValueError("kinds must be a sequence of kind names, not a string")
    if "input" in kinds and len(set(kinds)) > 1:
        others = [k for k in dict.fromkeys(kinds) if k != "input"]
        raise ValueError(f"kinds {list(kinds)} mix 'input' with {', '.join(others)}: an input "
                         "question's prompt hides the call, which the other kinds need, so "
                         "they cannot share a row. Give the input rows their share with "
                         f"input_share (the method's is 0.375) and kinds={others} for the "
                         "others, or kinds=['input'] for input rows only")
    if n < 0 or sft < 0:
        raise ValueError("n and sft must be >= 0")
    levels = list(dict.fromkeys(levels))
    if not levels or any(lv not in LEVELS for lv in levels):
        raise ValueError(f"levels must be a non-empty subset of {sorted(LEVELS)}")
    filters = _Filters(difficulty, difficulty_filter or PAPER_FILTER, solver,
                       solver_filter or DifficultyFilter(n=1, max_pass=1, temperature=0.6),
                       filter_max_tokens, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    stats = SynthStats()
    n_valid = round(n * validation_fraction)
    target = {"train": _shares(n - n_valid, levels), "validation": _shares(n_valid, levels),
              "sft": _shares(sft, levels)}
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "sft": []}
    have: dict[str, Counter[int]] = {"train": Counter(), "validation": Counter(),
                                     "sft_output": Counter(), "sft_input": Counter()}
    per_level: Counter[int] = Counter()
    sums: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    split_of: dict[str, str] = {}  # program -> split, fixed by its first item

    def wants(lv: int, split: str) -> bool:
        if split == "sft":
            return (have["sft_output"][lv] < target["sft"][lv]
                    or have["sft_input"][lv] < target["sft"][lv])
        return have[split][lv] < target[split][lv]

    def open_level(lv: int) -> bool:
        return any(wants(lv, sp) for sp in ("train", "validation", "sft"))

    need = {lv: target["train"][lv] + target["validation"][lv] + 2 * target["sft"][lv]
            for lv in levels}
    caps = {lv: max_candidates_per_row * need[lv] + 256 for lv in levels}
    # One stream per level, so that every level fills its own quota however hard it is.
    streams = {lv: synthesize(caps[lv], [lv], seed=seed + 1_000_003 * lv, sandbox=sandbox,
                              stats=stats) for lv in levels}
    pulled: Counter[int] = Counter()
    exhausted: set[int] = set()
    total = n + 2 * sft
    bar = Progress(total, "samples", desc="synth", enabled=progress)
    last = 0.0
    chunk = 16 if filters.upper_bound or difficulty is not None else 64
    while True:
        live = [lv for lv in levels if open_level(lv) and lv not in exhausted]
        if not live:
            break
        batch: list[Item] = []
        for lv in live:
            left = sum(max(0, target[sp][lv] - have[sp][lv]) for sp in ("train", "validation"))
            left += sum(max(0, target["sft"][lv] - have[f"sft_{t}"][lv])
                        for t in ("output", "input"))
            for _ in range(min(chunk, max(4, left))):
                if pulled[lv] >= caps[lv]:
                    exhausted.add(lv)
                    break
                item = next(streams[lv], None)
                if item is None:
                    exhausted.add(lv)
                    break
                pulled[lv] += 1
                batch.append(item)
        # Only items some split still wants go to the (costly) difficulty bounds.
        wanted = [it for it in batch if _split_for(it, split_of, validation_fraction,
                                                   wants) is not None]
        stats.rejects["level share full"] += len(batch) - len(wanted)
        for item, verdict in zip(wanted, filters(wanted), strict=True):
            if not verdict.keep:
                stats.rejects[verdict.reason] += 1
                continue
            split = _split_for(item, split_of, validation_fraction, wants)
            if split is None:
                stats.rejects["level share full"] += 1
                continue
            marks = {"pass_count": verdict.pass_count,
                     "pass_n": filters.flt.n if difficulty is not None else None,
                     "solver_pass_count": verdict.solver_pass_count,
                     "upper_bound": filters.upper_bound}
            lv = item.level
            if split == "sft":
                added = False
                for task in ("output", "input"):
                    if have[f"sft_{task}"][lv] >= target["sft"][lv]:
                        continue
                    try:
                        record = sft_record(item, task, seed=seed + item.index,
                                            system_prompt=system_prompt)
                    except ValueError:
                        stats.rejects[f"no {task} question"] += 1
                        continue
                    rows["sft"].append({**record, **marks})
                    have[f"sft_{task}"][lv] += 1
                    added = True
                if added:
                    split_of.setdefault(item.program_id, "sft")
                continue
            j = have[split][lv]
            oi = input_share > 0 and _nth_is_input(j, input_share)
            sample = sample_from_trace(item.trace, ("input",) if oi else kinds,
                                       max_per_kind, seed=seed + item.index,
                                       on_incomplete="keep")
            if not sample.questions and oi:  # no askable input: an I/O row instead
                oi = False
                sample = sample_from_trace(item.trace, kinds, max_per_kind,
                                           seed=seed + item.index, on_incomplete="keep")
            if not sample.questions:
                stats.rejects["no question"] += 1
                continue
            split_of.setdefault(item.program_id, split)
            row = _row(item, sample, system_prompt, reward_options)
            row.update(marks)
            row["rl_kind"] = "oi" if oi else "io_mixed"
            rows[split].append(row)
            have[split][lv] += 1
            per_level[lv] += 1
            for key, v in item.features.items():
                sums[lv][key] += v
        if progress and time.monotonic() - last > 0.2:
            last = time.monotonic()
            bar.update(sum(len(r) for r in rows.values()))
    bar.update(total)
    bar.close()
    # Rows in a stable order that interleaves levels (streams are per level).
    rows = {name: _interleave(rs) for name, rs in rows.items()}
    report = BuildReport(out_dir=str(out), rejects=dict(stats.rejects),
                         per_level=dict(sorted(per_level.items())))
    report.feature_means = {lv: {k: v / per_level[lv] for k, v in f.items()}
                            for lv, f in sums.items()}
    report.per_split = {name: dict(sorted(Counter(r["level"] for r in rs).items()))
                        for name, rs in rows.items()}
    report.shortfall = {name: {lv: short for lv in levels if (short := (
        2 * target["sft"][lv] if name == "sft" else target[name][lv]) - report.per_split[
            name].get(lv, 0)) > 0} for name in rows}
    report.shortfall = {k: v for k, v in report.shortfall.items() if v}
    report.pass_counts = dict(sorted(Counter(
        r["pass_count"] for rs in rows.values() for r in rs
        if r["pass_count"] is not None).items()))
    for name, rs in rows.items():
        if name == "sft" and not sft:
            continue
        path = out / f"{name}.{fmt}"
        _write(path, rs, fmt)
        report.files[path.name] = len(rs)
    report.seconds = time.monotonic() - start
    (out / "summary.json").write_text(json.dumps({
        "n": n, "levels": list(levels), "seed": seed, "kinds": list(kinds),
        "input_share": input_share, "files": report.files, "per_level": report.per_level,
        "per_split": report.per_split, "shortfall": report.shortfall,
        "difficulty": None if difficulty is None else {
            "n": filters.flt.n, "max_pass": filters.flt.max_pass,
            "temperature": filters.flt.temperature, "match": filters.flt.match},
        "upper_bound": filters.upper_bound, "pass_counts": report.pass_counts,
        "feature_means": report.feature_means, "rejects": report.rejects}, indent=2,
        sort_keys=True, default=str))
    return report


def _split_for(item: Item, split_of: dict[str, str], validation_fraction: float,
               wants: Any) -> str | None:
    """The split an item goes to, or None when its split (or level) is already full.

    A program held out by its hash goes to validation only; another program to train, or to
    SFT once train is full; a program's later items follow its first one.
    """
    lv = item.level
    fixed = split_of.get(item.program_id)
    if fixed is not None:
        return fixed if wants(lv, fixed) else None
    if int(item.program_id[:8], 16) / 0xFFFFFFFF < validation_fraction:
        return "validation" if wants(lv, "validation") else None
    for split in ("train", "sft"):
        if wants(lv, split):
            return split
    return None


def _interleave(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_level: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_level[r["level"]].append(r)
    out: list[dict[str, Any]] = []
    queues = [by_level[lv] for lv in sorted(by_level)]
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out
