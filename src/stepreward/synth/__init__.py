"""Constraint-based program and input synthesis, difficulty, and dataset building."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "LEVELS", "VOCABULARY", "BuildReport", "Constraints", "Item", "SynthStats", "build_dataset",
    "features", "level_constraints", "narrate", "normalized_hash", "sft_record", "synthesize",
]

if TYPE_CHECKING:
    from stepreward.synth._dataset import BuildReport, build_dataset, narrate, sft_record
    from stepreward.synth._pipeline import (
        LEVELS,
        Item,
        SynthStats,
        features,
        level_constraints,
        normalized_hash,
        synthesize,
    )
    from stepreward.synth.vocab import VOCABULARY
    from stepreward.types import Constraints

_WHERE = {"LEVELS": "_pipeline", "Item": "_pipeline", "SynthStats": "_pipeline",
          "features": "_pipeline", "level_constraints": "_pipeline",
          "normalized_hash": "_pipeline", "synthesize": "_pipeline", "VOCABULARY": "vocab",
          "BuildReport": "_dataset", "build_dataset": "_dataset", "narrate": "_dataset",
          "sft_record": "_dataset"}


def __getattr__(name: str) -> Any:
    import importlib

    if name == "Constraints":
        from stepreward.types import Constraints

        return Constraints
    if name in _WHERE:
        return getattr(importlib.import_module(f"stepreward.synth.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'stepreward.synth' has no attribute {name!r}")
