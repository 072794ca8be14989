"""What a benchmark is: the record every bench registers, and the item type it loads.

A bench is one record (:class:`Bench`): its name, how it loads its items from a data file (or
the hub), where its file lies under a ``STEPREWARD_DATA`` folder (``layout``), how stage-1
answers to it are graded (``policy``) and the task family it belongs to (``family``: a
training set that shares tasks with the family is refused). :func:`register_bench` adds one;
the built-ins are one module per benchmark family in ``stepreward/eval/benches/``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from stepreward._jsonl import read_jsonl
from stepreward.types import CodeTask, GradingPolicy, Sample

if TYPE_CHECKING:
    import os

    from stepreward.eval._reval import REvalCase

__all__ = ["CODE_INSTRUCTION", "REGISTRY", "Bench", "EvalItem", "Loader", "code_items",
           "local_or_hub", "register_bench", "trace_items", "unregister_bench"]

CODE_INSTRUCTION = ("Complete the function. Reason first if you like, then give the complete "
                    "code in one ```python block inside <answer> and </answer>.")


@dataclass
class EvalItem:
    """One benchmark item: a stage-1 sample or a code task, with its prompt."""

    id: str
    prompt: str
    sample: Sample | None = None
    task: CodeTask | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reval: REvalCase | None = None
    raw: dict[str, Any] | None = None  # the benchmark's own record (official prompts)


#: How a bench loads its items: ``load(path, limit, seed)`` with ``path`` the local data file
#: (None: the hub, or an error naming what to pass), ``limit`` the first items to keep.
Loader = Callable[[str | None, int | None, int], list[EvalItem]]


@dataclass(frozen=True)
class Bench:
    """One benchmark.

    Example:
        >>> from stepreward.eval import get_bench
        >>> b = get_bench("cruxeval-o")
        >>> b.policy, b.family, b.layout
        ('execute', 'cruxeval', ('cruxeval', ('cruxeval.jsonl',)))
    """

    name: str
    description: str
    load: Loader
    #: Where its data lies under a STEPREWARD_DATA folder: (sub-folder, file names tried in
    #: order; the first that exists wins, else the only *.jsonl / *.jsonl.gz there).
    layout: tuple[str, tuple[str, ...]] | None = None
    #: How stage-1 answers are graded (``execute``: CRUXEval's way); code tasks run their tests.
    policy: GradingPolicy = "literal"
    #: The task family (task ids and sources that start with it belong to the benchmark).
    family: str | None = None
    #: Where it sorts in ``BENCHES`` (the command line's choices).
    order: int = 100


_lock = threading.Lock()
_registry: dict[str, Bench] = {}
#: Every registered bench by name, in order (a read-only view that follows registrations).
REGISTRY: Mapping[str, Bench] = MappingProxyType(_registry)


def register_bench(bench: Bench, *, replace: bool = False) -> Bench:
    """Add ``bench`` to the registry (``replace=True`` to overwrite one of the same name).

    Example:
        >>> from stepreward.eval import get_bench
        >>> register_bench(get_bench("mbpp"))
        Traceback (most recent call last):
        ...
        ValueError: a benchmark named 'mbpp' exists; pass replace=True to overwrite it
    """
    if not isinstance(bench, Bench):
        raise TypeError(f"register_bench takes a Bench, got {type(bench).__name__}")
    if not bench.name or not bench.name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"a benchmark name is letters, digits, '-' and '_', got {bench.name!r}")
    with _lock:
        if bench.name in _registry and not replace:
            raise ValueError(f"a benchmark named {bench.name!r} exists; pass replace=True to "
                             "overwrite it")
        _registry[bench.name] = bench
        ordered = sorted(_registry.items(), key=lambda item: (item[1].order, item[0]))
        _registry.clear()
        _registry.update(ordered)
    return bench


def unregister_bench(name: str) -> None:
    """Remove a bench from the registry (for tests of benches added at run time)."""
    with _lock:
        _registry.pop(name, None)


# ------------------------------------------------------------------ helpers for the loaders


def local_or_hub(path: str | os.PathLike[str] | None, hub: str) -> list[dict[str, Any]]:
    """The rows of the local file, else of the hub dataset's test split."""
    from stepreward.eval._tasks import _hub_rows

    return read_jsonl(path) if path else _hub_rows(hub, "test")


def trace_items(rows: Sequence[dict[str, Any]], calls: Sequence[tuple[str, str]],
                kinds: Sequence[str], seed: int) -> list[EvalItem]:
    """Items asking ``kinds`` about each ``(source, call)`` run (up to 3 per kind; item *i*
    selected with ``seed + i``); rows whose run has nothing to ask are left out."""
    from stepreward.questions._sample import sample_from_trace
    from stepreward.trace._api import trace_many

    traces = trace_many(list(calls))
    items = []
    for i, (r, t) in enumerate(zip(rows, traces, strict=True)):
        try:
            s = sample_from_trace(t, kinds, max_per_kind=3, seed=seed + i)
        except ValueError:
            continue
        if s.questions:
            item_id = str(r.get("id") or r.get("question_id") or i)
            items.append(EvalItem(id=item_id, prompt=s.prompt, sample=s, raw=r))
    return items


def code_items(tasks: Sequence[CodeTask], limit: int | None = None) -> list[EvalItem]:
    """Items asking for each task's code, in stepreward's answer format."""
    return [EvalItem(id=t.task_id, prompt=f"{t.prompt.rstrip()}\n\n{CODE_INSTRUCTION}", task=t)
            for t in list(tasks)[:limit]]
