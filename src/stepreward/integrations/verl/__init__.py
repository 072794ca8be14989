"""verl adapter: the custom reward function, its file path, and rows in verl's parquet layout.

verl (0.4 and later) loads ``reward.custom_reward_function.path`` by file path and calls
``compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)`` once per
response, in a thread (or awaited, for an ``async def``). A dict result must hold ``score``; its
other keys become ``reward_extra_info``, whose keys verl takes from the batch's FIRST sample, so
every call returns the same numeric keys: :data:`VERL_KEYS`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from stepreward.rewards import METRIC_KEYS, RewardResult, areward_for, read_label, reward_for

__all__ = ["ABILITY", "DATA_SOURCE", "VERL_KEYS", "compute_score", "compute_score_async",
           "reward_file_path", "verl_rows", "write_parquet"]

# ``score`` is the shaped reward verl optimises; ``acc`` the raw correctness in [0, 1] (verl's
# name for it, what ``algorithm.filter_groups.metric=acc`` filters on); then the core's metrics.
VERL_KEYS: tuple[str, ...] = ("score", "acc", *METRIC_KEYS)
DATA_SOURCE = {"trace": "stepreward/stage1", "code": "stepreward/stage2"}
ABILITY = {"trace": "code_execution", "code": "code"}
# Keyword arguments verl itself adds to the call (a reward model's router); not reward options.
_VERL_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})


def reward_file_path() -> str:
    """The file to pass as verl's ``reward.custom_reward_function.path``.

    Example:
        >>> reward_file_path().endswith("reward_fn.py")
        True
    """
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "reward_fn.py")


def _result(r: RewardResult) -> dict[str, float]:
    return {"score": r.reward, "acc": r.score, **r.metrics}


def _options(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k not in _VERL_KWARGS}


def compute_score(data_source: Any, solution_str: Any, ground_truth: Any,
                  extra_info: Any = None, **kwargs: Any) -> dict[str, float]:
    """Score one verl response against its label (the row's ``reward_model.ground_truth``).

    ``kwargs`` are verl's ``reward.custom_reward_function.reward_kwargs``: ``preset`` and the
    preset's options (see :func:`stepreward.rewards.reward_for`); without them the preset
    recorded in the label applies. Returns :data:`VERL_KEYS`, numbers only; never raises.

    Example:
        >>> out = compute_score("stepreward/stage1", "no answer", "not a label")
        >>> out["score"], out["errors"], tuple(out) == VERL_KEYS
        (0.0, 1.0, True)
    """
    opts = _options(kwargs)
    return _result(reward_for(solution_str, ground_truth, **opts))


async def compute_score_async(data_source: Any, solution_str: Any, ground_truth: Any,
                              extra_info: Any = None, **kwargs: Any) -> dict[str, float]:
    """:func:`compute_score` for verl's async path (``name=compute_score_async``): grading
    runs off verl's event loop.

    Example:
        >>> import asyncio
        >>> asyncio.run(compute_score_async("", "x", None))["errors"]
        1.0
    """
    opts = _options(kwargs)
    return _result(await areward_for(solution_str, ground_truth, **opts))


def verl_rows(rows: Iterable[Mapping[str, Any]], *, split: str = "train",
              data_source: str | None = None) -> list[dict[str, Any]]:
    """Rows in verl's layout from prompt/label rows: those of :mod:`stepreward.rows`
    (``prompt``), of ``stepreward synth`` and of the paper's ``code-rows`` (``messages``).

    Each row becomes ``data_source`` (``stepreward/stage1`` or ``stepreward/stage2``),
    ``prompt`` (the chat messages), ``ability``, ``reward_model = {"style": "rule",
    "ground_truth": <label JSON>}`` and ``extra_info = {"split", "index", "id", "level"}``.

    Example:
        >>> from stepreward.rows import code_task_rows
        >>> from stepreward.types import CodeTask, TestCase
        >>> t = CodeTask(task_id="t", prompt="Add.", tests=[TestCase.call("add", (1, 2), 3)])
        >>> row = verl_rows(code_task_rows([t]))[0]
        >>> row["data_source"], row["ability"], row["reward_model"]["style"]
        ('stepreward/stage2', 'code', 'rule')
    """
    out = []
    for index, row in enumerate(rows):
        prompt = row.get("prompt", row.get("messages"))
        if isinstance(prompt, str):
            prompt = [{"role": "user", "content": prompt}]
        if not isinstance(prompt, list) or not prompt:
            raise ValueError(f"row {index}: verl needs the prompt as chat messages "
                             f"('prompt' or 'messages')")
        label = row.get("label")
        if not isinstance(label, str):
            label = json.dumps(label, ensure_ascii=False) if isinstance(label, dict) else None
        kind = read_label(label).kind if label is not None else "invalid"
        if kind == "invalid":
            why = read_label(label).reason if label is not None else "no label"
            raise ValueError(f"row {index}: not a stage-1 sample or code task label ({why})")
        out.append({
            "data_source": data_source or DATA_SOURCE[kind],
            "prompt": [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt],
            "ability": ABILITY[kind],
            "reward_model": {"style": "rule", "ground_truth": label},
            "extra_info": {"split": split, "index": index, "id": str(row.get("id", index)),
                           "level": row.get("level")},
        })
    return out


def write_parquet(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write :func:`verl_rows` output as the parquet file verl's ``data.train_files`` reads.
    Needs ``pyarrow`` (``pip install 'stepreward[verl]'``).

    Example:
        >>> write_parquet(verl_rows([]), "/tmp/empty.parquet")  # doctest: +SKIP
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("writing verl's parquet files needs pyarrow: "
                          "pip install 'stepreward[verl]'") from None
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows)), path)
