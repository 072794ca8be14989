"""Deprecated address of the known-model fetcher: :mod:`stepreward.recipe.models` re-exported."""

from __future__ import annotations

from stepreward._compat import warn_renamed
from stepreward.recipe.models import KNOWN_MODELS, MANIFEST, KnownModel, fetch_model

__all__ = ["KNOWN_MODELS", "MANIFEST", "KnownModel", "fetch_model"]

warn_renamed("stepreward.integrations.models", "stepreward.recipe.models")
