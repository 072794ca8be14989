"""Constraint-based program and input synthesis, difficulty, and dataset building."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepreward._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.synth._backends": ["GenerationError", "Generator", "OpenAICompatible",
                                   "TransformersGenerator", "VLLMGenerator"],
    "stepreward.synth._check": ["check_constraints"],
    "stepreward.synth._constraints": ["Constraints"],
    "stepreward.synth._dataset": ["BuildReport", "build_dataset", "narrate", "sft_record"],
    "stepreward.synth._model": ["PAPER_FILTER", "DifficultyFilter", "estimate_difficulty",
                                "model_synthesize", "parse_program", "program_prompt"],
    "stepreward.synth._pipeline": ["LEVELS", "Item", "SynthStats", "features",
                                   "level_constraints", "normalized_hash", "synthesize"],
    "stepreward.synth._single": ["synthesize_one"],
    "stepreward.synth.vocab": ["VOCABULARY"],
})
