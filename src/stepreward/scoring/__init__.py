"""Answer parsing, grading and reward composition: ``score(completion, sample)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "COMPONENTS", "PRESETS", "RewardConfig", "Score", "completion_text", "extract_answer_block",
    "reward_preset", "score", "score_many", "split_answers",
]

if TYPE_CHECKING:
    from stepreward.scoring._parse import completion_text, extract_answer_block, split_answers
    from stepreward.scoring._score import COMPONENTS, PRESETS, reward_preset, score, score_many
    from stepreward.types import RewardConfig, Score

_WHERE = {
    "completion_text": "_parse", "extract_answer_block": "_parse", "split_answers": "_parse",
    "COMPONENTS": "_score", "PRESETS": "_score", "reward_preset": "_score", "score": "_score",
    "score_many": "_score",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in ("RewardConfig", "Score"):
        from stepreward import types

        return getattr(types, name)
    if name in _WHERE:
        return getattr(importlib.import_module(f"stepreward.scoring.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'stepreward.scoring' has no attribute {name!r}")
