"""The stage-2 training tasks: Eurus-2-RL-Data (PRIME) code rows, synthesized tasks, or MBPP+."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward.types import CodeTask

if TYPE_CHECKING:
    from stepreward.recipe.schema import CodeSection
    from stepreward.sandbox._pool import Sandbox

__all__ = ["PRIME_DATASET", "code_spec", "load_code_tasks", "load_prime_rows", "read_rows"]

PRIME_DATASET = "PRIME-RL/Eurus-2-RL-Data"


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a JSONL (optionally gzipped), JSON or parquet file.

    Example:
        >>> read_rows("eurus-code.jsonl")  # doctest: +SKIP
        [{'prompt': ..., 'ability': 'code', ...}]
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    if p.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise RuntimeError("reading parquet needs pyarrow: pip install pyarrow") from None
        return list(pq.read_table(p).to_pylist())
    if p.suffix == ".json":
        data = json.loads(p.read_text(encoding="utf-8"))
        return list(data) if isinstance(data, list) else [data]
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_prime_rows(path: str | os.PathLike[str] | None = None, *,
                    splits: Sequence[str] = ("train", "validation"),
                    ability: str = "code") -> list[dict[str, Any]]:
    """Rows of Eurus-2-RL-Data (PRIME) with ``ability == "code"``, from a local file (JSONL,
    JSON or parquet) or, without one, from the hub (``datasets``; the method uses its train
    and validation splits). Prompts keep only the user turn, as the method does.

    Example:
        >>> rows = load_prime_rows("eurus-code.jsonl")  # doctest: +SKIP
    """
    if path:
        rows = read_rows(path)
    else:
        try:
            import datasets
        except ImportError:
            raise FileNotFoundError(f"no local file given and the `datasets` package is not "
                                    f"installed to fetch {PRIME_DATASET}") from None
        rows = []
        for split in splits:
            try:
                rows.extend(dict(r) for r in datasets.load_dataset(PRIME_DATASET, split=split))
            except Exception as exc:
                raise FileNotFoundError(f"could not load {PRIME_DATASET} ({split}) from the "
                                        f"hub ({exc}); give a local path") from None
    out = []
    for i, r in enumerate(rows):
        if r.get("ability", ability) != ability:
            continue
        prompt = r.get("prompt")
        if isinstance(prompt, list):
            user = [m.get("content", "") for m in prompt
                    if isinstance(m, dict) and m.get("role") == "user"]
            prompt = "\n".join(user) if user else prompt
        extra = r.get("extra_info") or {}
        ident = r.get("id") or r.get("task_id") or (
            f"{r.get('data_source', 'prime')}/{extra.get('split', '')}/{extra.get('index', i)}"
            if isinstance(extra, dict) else f"prime/{i}")
        out.append({**r, "prompt": prompt, "id": str(ident)})
    return out


def _code_section(code: CodeSection | Mapping[str, Any]) -> CodeSection:
    from stepreward.recipe.schema import CodeSection, validate_section

    return validate_section(CodeSection, code, prefix="data.code")


def load_code_tasks(spec: CodeSection | Mapping[str, Any], *, seed: int = 0,
                    sandbox: Sandbox | None = None) -> list[CodeTask]:
    """Stage-2 training tasks as a config's ``data.code`` section describes them.

    ``source: prime`` (the method: Eurus-2-RL-Data code tasks from ``path`` or the hub),
    ``synth`` (tasks made from synthesized programs, for CPU demos; the default) or
    ``mbpp-plus`` (only with ``force_contaminated``: it is an evaluation benchmark). ``n``
    caps the count.

    Example:
        >>> tasks = load_code_tasks({"source": "synth", "n": 4, "levels": [2]})  # doctest: +SKIP
    """
    code = _code_section(spec)
    source = code.source or "synth"
    n = code.n
    if source == "prime":
        from stepreward.eval._tasks import load_prime_code

        tasks = [t for t in load_prime_code(load_prime_rows(code.path)) if t.tests]
    elif source == "synth":
        from stepreward.eval._tasks import tasks_from_synth
        from stepreward.synth._pipeline import synthesize

        items = list(synthesize(2 * code.count(), levels=code.levels,
                                seed=seed + 1 if code.seed is None else code.seed,
                                sandbox=sandbox))
        # Each task shows one call and is tested on every call of its program.
        tasks = tasks_from_synth(items)
    elif source == "mbpp-plus":
        from stepreward.eval._tasks import load_mbpp_plus

        tasks = load_mbpp_plus(code.path, plus=False)
    else:
        raise ValueError(f"data.code.source must be prime, synth or mbpp-plus, got {source!r}")
    return tasks[:n] if n else tasks


def code_spec(code: CodeSection | Mapping[str, Any]) -> dict[str, Any]:
    """A config's ``data.code`` section with every default filled in and its source named:
    ``easy`` for the recipe's own arithmetic tasks, the old ``mbpp_plus_path`` key read as
    ``source: mbpp-plus`` (which the contamination check then refuses unless forced).

    Example:
        >>> code_spec({"mbpp_plus_path": "MbppPlus.jsonl.gz"})["source"]
        'mbpp-plus'
    """
    spec = _code_section(code).model_dump()
    if spec["source"] is None:
        if spec["easy"]:
            spec["source"] = "easy"  # the recipe's own arithmetic tasks (easy_code_tasks)
        elif spec["mbpp_plus_path"]:
            spec.update(source="mbpp-plus", path=spec["mbpp_plus_path"])
        else:
            spec["source"] = "synth"
    return spec
