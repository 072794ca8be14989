"""Tasks for task registries (verifiers, reasoning-gym): one sample per seed, or synth files.

Registries address a task by position: reasoning-gym builds item *i* from ``Random(seed +
i)``, a verifiers ``Taskset`` yields tasks from ``load()``. :func:`generate_task` makes one
stage-1 sample from one seed (a synthesized program, its traced call, questions of the
chosen kinds), so any item can be rebuilt alone and the same seed gives the same bytes.
:func:`read_sample_rows` reads the rows that ``stepreward synth`` wrote instead.

:func:`task_prompt` is the prompt a registry shows: the sample's own prompt, except that an
input-prediction sample never shows the call whose arguments it asks for.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward.types import Sample

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["ALL_LEVELS", "TASK_KINDS", "GeneratedTask", "check_kinds", "check_levels",
           "generate_task", "read_sample_rows", "task_prompt"]

ALL_LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
# The kinds a task can ask: output and input prediction, and the step questions.
TASK_KINDS: tuple[str, ...] = ("output", "input", "next_statement", "state", "coverage",
                               "branch")
_PROGRAMS_PER_TASK = 20


@dataclass(frozen=True)
class GeneratedTask:
    """One generated task: the sample (its prompt as :func:`task_prompt` renders it), the
    program's level, the kinds it asks, and the seed it came from.

    Example:
        >>> t = generate_task(3, levels=[1], kinds=["output"])
        >>> t.kinds, t.level, t.sample.questions[0].kind
        (('output',), 1, 'output')
    """

    sample: Sample
    level: int
    kinds: tuple[str, ...]
    seed: int


def check_levels(levels: Any) -> tuple[int, ...]:
    """``levels`` as a sorted tuple, or ValueError saying what is wrong.

    Example:
        >>> check_levels([3, 1])
        (1, 3)
    """
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence | set | frozenset):
        raise ValueError(f"levels must be a list of levels from {list(ALL_LEVELS)}, got "
                         f"{levels!r}")
    out = sorted(set(levels))
    bad = [lv for lv in out if isinstance(lv, bool) or lv not in ALL_LEVELS]
    if not out or bad:
        raise ValueError(f"levels must be a non-empty list of levels from {list(ALL_LEVELS)}, "
                         f"got {list(levels)!r}")
    return tuple(out)


def check_kinds(kinds: Any) -> tuple[str, ...]:
    """``kinds`` as a tuple without repeats (order kept), or ValueError saying what is wrong.

    Example:
        >>> check_kinds(["output", "input", "output"])
        ('output', 'input')
    """
    if isinstance(kinds, (str, bytes)) or not isinstance(kinds, Sequence | set | frozenset):
        raise ValueError(f"kinds must be a list of question kinds from {list(TASK_KINDS)}, "
                         f"got {kinds!r}")
    out = tuple(dict.fromkeys(kinds))
    bad = [k for k in out if k not in TASK_KINDS]
    if not out or bad:
        raise ValueError(f"kinds must be a non-empty list of question kinds from "
                         f"{list(TASK_KINDS)}; unknown: {bad or 'none given'}")
    return out


def task_prompt(sample: Sample) -> str:
    """The prompt to show for ``sample``: its own; for an input question it is rendered
    again with the call hidden (``f(??)``), so that samples stored by versions whose input
    prompts showed the call (the call's arguments are the answer) are safe to train on too.

    Example:
        >>> from stepreward.questions import build_sample
        >>> s = build_sample("def f(x):\\n    return x + 1", "f(2)", kinds=["input"])
        >>> "Call: f(??)" in task_prompt(s), "f(2)" in task_prompt(s)
        (True, False)
    """
    if not any(q.kind == "input" for q in sample.questions):
        return sample.prompt
    from stepreward.questions import render_prompt

    entry = sample.entry or sample.call.split("(", 1)[0].strip()
    return render_prompt(sample.source, f"{entry}(??)", sample.questions)


def generate_task(seed: int, levels: Sequence[int] = ALL_LEVELS,
                  kinds: Sequence[str] = ("output", "input", "next_statement", "state"), *,
                  max_per_kind: int = 1, mixed: bool = False, input_share: float = 0.375,
                  sandbox: Sandbox | None = None) -> GeneratedTask:
    """The task of ``seed``: everything is drawn from ``Random(seed)``, so a task can be
    rebuilt alone (the same seed gives the same sample, byte for byte).

    A program of one of ``levels`` is synthesized and traced in the sandbox
    (:func:`stepreward.synth.synthesize_one`). With ``mixed=False`` the task asks one kind,
    drawn from ``kinds`` (the next one in a seeded order when the run offers no question of
    it), up to ``max_per_kind`` questions. With ``mixed=True`` it asks every kind of
    ``kinds`` but ``input`` together, as the method's I/O rows do, and with probability
    ``input_share`` (when ``input`` is among ``kinds``) only input questions, as its O/I rows.
    Raises ValueError for bad arguments and RuntimeError when no question can be asked.

    Example:
        >>> t = generate_task(0, levels=[2], kinds=["state"], max_per_kind=2)
        >>> t.kinds, len(t.sample.questions) <= 2
        (('state',), True)
    """
    from stepreward.questions import sample_from_trace
    from stepreward.synth import synthesize_one

    levels = check_levels(levels)
    kinds = check_kinds(kinds)
    if isinstance(max_per_kind, bool) or not isinstance(max_per_kind, int) or max_per_kind < 1:
        raise ValueError(f"max_per_kind must be an integer >= 1, got {max_per_kind!r}")
    if not 0.0 <= input_share <= 1.0:
        raise ValueError(f"input_share must be in [0, 1], got {input_share!r}")
    rng = random.Random(seed)
    # A run that offers no question of the wanted kinds (rare: say, only `input` asked of a
    # result with no literal form) gives way to the next program of the same generator.
    for _ in range(_PROGRAMS_PER_TASK):
        item = synthesize_one(rng, levels, sandbox=sandbox)
        order: list[tuple[str, ...]]
        if mixed:
            steps = tuple(k for k in kinds if k != "input")
            wants_input = "input" in kinds and (not steps or rng.random() < input_share)
            order = [("input",), steps] if wants_input else [steps, ("input",)]
            order = [o for o in order if o and set(o) <= set(kinds)]
        else:
            shuffled = list(kinds)
            rng.shuffle(shuffled)
            order = [(k,) for k in shuffled]
        question_seed = rng.getrandbits(31)
        for chosen in order:
            sample = sample_from_trace(item.trace, chosen, max_per_kind, seed=question_seed)
            if sample.questions:
                sample = sample.model_copy(update={"id": f"execverify-{seed}",
                                                   "prompt": task_prompt(sample)})
                return GeneratedTask(sample=sample, level=item.level, kinds=chosen, seed=seed)
    raise RuntimeError(f"seed {seed}: {_PROGRAMS_PER_TASK} programs offered no question of "
                       f"the kinds {list(kinds)}")


def _rows_of(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ValueError(f"{path}: reading parquet needs pyarrow "
                             f"(pip install pyarrow)") from exc
        yield from pq.read_table(path).to_pylist()
        return
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: not a JSON line ({exc})") from exc
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{n}: a row is a JSON object, got "
                                 f"{type(row).__name__}")
            yield row


def read_sample_rows(path: str | Path, split: str = "train",
                     levels: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """The stage-1 rows of a ``stepreward synth`` output: ``path`` is its directory (the
    ``split`` file is read: ``train.jsonl``, ``validation.parquet``, ...) or one file.

    Rows keep their columns (``label``, ``level``, ...); with ``levels`` only rows of those
    levels are kept. Raises ValueError when the file is missing, unreadable, or holds no
    stage-1 row.

    Example:
        >>> import tempfile
        >>> from stepreward.questions import build_sample
        >>> d = Path(tempfile.mkdtemp())
        >>> row = build_sample("def f(x):\\n    return x", "f(1)", kinds=["output"]).to_row()
        >>> _ = (d / "train.jsonl").write_text(json.dumps({**row, "level": 1}) + "\\n")
        >>> [r["level"] for r in read_sample_rows(d)]
        [1]
    """
    p = Path(path)
    if p.is_dir():
        found = [p / f"{split}.{ext}" for ext in ("jsonl", "parquet")]
        found = [f for f in found if f.exists()]
        if not found:
            raise ValueError(f"{p} has no {split}.jsonl or {split}.parquet (is it the output "
                             f"directory of `stepreward synth`?)")
        p = found[0]
    elif not p.exists():
        raise ValueError(f"{p} does not exist")
    wanted = None if levels is None else set(check_levels(levels))
    out = []
    for row in _rows_of(p):
        label = row.get("label", row)
        if isinstance(label, str):
            try:
                label = json.loads(label)
            except ValueError:
                continue
        if not isinstance(label, dict) or "questions" not in label:
            continue
        if wanted is not None and row.get("level") not in wanted:
            continue
        out.append(row)
    if not out:
        what = f" of levels {sorted(wanted)}" if wanted is not None else ""
        raise ValueError(f"{p} holds no stage-1 sample rows{what}")
    return out
