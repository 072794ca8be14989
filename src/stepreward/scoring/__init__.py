"""Answer parsing, grading and reward composition: ``score(completion, sample)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepreward._lazy import lazy_exports

__all__ = [
    "COMPONENTS", "PRESETS", "RewardConfig", "Score", "completion_text", "extract_answer_block",
    "reward_preset", "score", "score_many", "split_answers",
]

if TYPE_CHECKING:
    from stepreward.scoring._parse import completion_text, extract_answer_block, split_answers
    from stepreward.scoring._score import COMPONENTS, PRESETS, reward_preset, score, score_many
    from stepreward.types import RewardConfig, Score

__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.scoring._parse": ["completion_text", "extract_answer_block", "split_answers"],
    "stepreward.scoring._score": ["COMPONENTS", "PRESETS", "reward_preset", "score",
                                  "score_many"],
    "stepreward.types": ["RewardConfig", "Score"],
})
