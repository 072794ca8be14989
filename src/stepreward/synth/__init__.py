"""Constraint-based program and input synthesis, difficulty, and dataset building."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "LEVELS", "PAPER_FILTER", "VOCABULARY", "BuildReport", "Constraints", "DifficultyFilter",
    "GenerationError", "Generator", "Item", "OpenAICompatible", "SynthStats",
    "TransformersGenerator", "VLLMGenerator", "build_dataset", "check_constraints",
    "estimate_difficulty",
    "features", "level_constraints", "model_synthesize", "narrate", "normalized_hash",
    "parse_program", "program_prompt", "sft_record", "synthesize", "synthesize_one",
]

if TYPE_CHECKING:
    from stepreward.synth._backends import (
        GenerationError,
        Generator,
        OpenAICompatible,
        TransformersGenerator,
        VLLMGenerator,
    )
    from stepreward.synth._check import check_constraints
    from stepreward.synth._constraints import Constraints
    from stepreward.synth._dataset import BuildReport, build_dataset, narrate, sft_record
    from stepreward.synth._model import (
        PAPER_FILTER,
        DifficultyFilter,
        estimate_difficulty,
        model_synthesize,
        parse_program,
        program_prompt,
    )
    from stepreward.synth._pipeline import (
        LEVELS,
        Item,
        SynthStats,
        features,
        level_constraints,
        normalized_hash,
        synthesize,
    )
    from stepreward.synth._single import synthesize_one
    from stepreward.synth.vocab import VOCABULARY

_WHERE = {"LEVELS": "_pipeline", "Item": "_pipeline", "SynthStats": "_pipeline",
          "features": "_pipeline", "level_constraints": "_pipeline",
          "normalized_hash": "_pipeline", "synthesize": "_pipeline", "VOCABULARY": "vocab",
          "synthesize_one": "_single",
          "BuildReport": "_dataset", "build_dataset": "_dataset", "narrate": "_dataset",
          "sft_record": "_dataset", "check_constraints": "_check",
          "GenerationError": "_backends", "Generator": "_backends",
          "OpenAICompatible": "_backends", "TransformersGenerator": "_backends",
          "VLLMGenerator": "_backends",
          "PAPER_FILTER": "_model", "DifficultyFilter": "_model",
          "estimate_difficulty": "_model", "model_synthesize": "_model",
          "parse_program": "_model", "program_prompt": "_model"}


def __getattr__(name: str) -> Any:
    import importlib

    if name == "Constraints":
        from stepreward.synth._constraints import Constraints

        return Constraints
    if name in _WHERE:
        return getattr(importlib.import_module(f"stepreward.synth.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'stepreward.synth' has no attribute {name!r}")
