"""The recipe config's schema at its first address: re-exports of
:mod:`stepreward.recipe.schema` (canonical)."""

from __future__ import annotations

from stepreward.recipe.schema import (
    CodeSection,
    DataSection,
    EvalSection,
    GrpoSection,
    LoraSection,
    ModelSection,
    RecipeConfig,
    SftSection,
    validate_recipe_config,
)

__all__ = ["CodeSection", "DataSection", "EvalSection", "GrpoSection", "LoraSection",
           "ModelSection", "RecipeConfig", "SftSection", "validate_recipe_config"]
