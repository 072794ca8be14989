"""The known-model fetcher at its first address: re-exports of :mod:`stepreward.recipe.models`
(canonical)."""

from __future__ import annotations

from stepreward.recipe.models import KNOWN_MODELS, MANIFEST, KnownModel, fetch_model

__all__ = ["KNOWN_MODELS", "MANIFEST", "KnownModel", "fetch_model"]
