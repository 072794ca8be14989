"""Deprecated address of the recipe config's schema: :mod:`stepreward.recipe.schema`
re-exported."""

from __future__ import annotations

from stepreward._compat import warn_renamed
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

warn_renamed("stepreward.integrations.recipe_schema", "stepreward.recipe.schema")
