"""Contamination checks: refuse stage-2 training tasks that overlap the evaluation benchmarks."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward.recipe.code_tasks import read_rows
from stepreward.types import CodeTask

if TYPE_CHECKING:
    from stepreward.recipe.schema import RecipeConfig

__all__ = ["DEFAULT_BENCHMARKS", "ContaminationError", "benchmark_tasks_ids",
           "check_contamination", "eval_benchmarks"]

# Benchmark families: a training task from the same family is contamination even when the
# benchmark's own file is not at hand to compare ids.
_FAMILIES = {"mbpp-plus": "mbpp", "mbpp": "mbpp", "humaneval-plus": "humaneval",
             "humaneval": "humaneval", "cruxeval": "cruxeval", "cruxeval-o": "cruxeval",
             "cruxeval-i": "cruxeval", "livecodebench": "livecodebench",
             "lcb-exec": "livecodebench", "bigcodebench": "bigcodebench"}
# The eval benchmarks a stage-2 set is checked against when a config names none.
DEFAULT_BENCHMARKS: dict[str, str | None] = {"mbpp-plus": None, "humaneval-plus": None,
                                             "cruxeval": None}


class ContaminationError(ValueError):
    """A training set shares tasks with an evaluation benchmark."""


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def benchmark_tasks_ids(name: str, path: str | os.PathLike[str] | None = None
                        ) -> tuple[set[str], set[str]]:
    """Task ids and normalised prompts of an eval benchmark's file (JSONL, gz or parquet);
    two empty sets without a file (the benchmark's family still counts, see
    :func:`check_contamination`).

    Example:
        >>> benchmark_tasks_ids("mbpp-plus")
        (set(), set())
    """
    if not path or not Path(path).exists():
        return set(), set()
    ids, prompts = set(), set()
    for r in read_rows(path):
        ident = r.get("task_id", r.get("id"))
        if ident is not None:
            ids.add(str(ident).lower())
        for key in ("prompt", "code", "question_content"):
            if isinstance(r.get(key), str) and r[key].strip():
                prompts.add(_norm(r[key]))
    return ids, prompts


def check_contamination(tasks: Iterable[CodeTask],
                        benchmarks: Mapping[str, str | os.PathLike[str] | None], *,
                        force: bool = False) -> list[str]:
    """Refuse training tasks that overlap the chosen eval benchmarks.

    ``benchmarks`` maps a benchmark name (``mbpp-plus``, ``humaneval-plus``, ``cruxeval``,
    ...) to its data file or None. A task overlaps when its id or its prompt (whitespace
    aside) is in the benchmark's file, or when it comes from the benchmark's family (its
    ``source`` or id prefix, e.g. ``mbppplus``, ``Mbpp/2``). Raises
    :class:`ContaminationError` naming the overlap, unless ``force``; returns the
    overlapping task ids.

    Example:
        >>> check_contamination([CodeTask(task_id="synth/1", prompt="p", source="synth")],
        ...                     {"mbpp-plus": None})
        []
    """
    found: dict[str, list[str]] = {}
    tasks = list(tasks)
    for name, path in benchmarks.items():
        ids, prompts = benchmark_tasks_ids(name, path)
        family = _FAMILIES.get(name.lower())
        hits = []
        for t in tasks:
            tid = t.task_id.lower()
            if (tid in ids or _norm(t.prompt) in prompts or (family is not None and (
                    t.source.lower().startswith(family) or tid.startswith(family)))):
                hits.append(t.task_id)
        if hits:
            found[name] = hits
    overlap = sorted({h for hits in found.values() for h in hits})
    if found and not force:
        detail = "; ".join(f"{name}: {len(h)} tasks (e.g. {', '.join(h[:3])})"
                           for name, h in found.items())
        raise ContaminationError(
            f"the stage-2 training set overlaps the evaluation benchmarks ({detail}). Train on "
            f"other tasks (data.code.source: prime or synth), drop those benchmarks from "
            f"eval.benchmarks, or set data.code.force_contaminated: true to train anyway.")
    return overlap


def eval_benchmarks(cfg: RecipeConfig | Mapping[str, Any]) -> dict[str, str | None]:
    """``eval.benchmarks`` of a recipe config (name -> data file or null), or the defaults.

    Example:
        >>> eval_benchmarks({"eval": {"benchmarks": ["cruxeval"]}})
        {'cruxeval': None}
    """
    from stepreward.recipe.schema import validate_recipe_config

    chosen = validate_recipe_config(cfg).eval.benchmarks
    if chosen is None:
        return dict(DEFAULT_BENCHMARKS)
    if isinstance(chosen, list):
        return dict.fromkeys((str(c) for c in chosen), None)
    return {str(k): (str(v) if v else None) for k, v in chosen.items()}
