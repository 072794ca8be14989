"""Moved to :mod:`stepreward.questions._gate` (the input kind grades with it, and questions sit
below scoring); the names stay importable from here."""

from __future__ import annotations

from stepreward.questions._gate import (
    INTROSPECTION_ATTRIBUTES,
    SAFE_NAMES,
    _restricted_errors,
    _Scopes,
    check_expression,
)

__all__ = ["INTROSPECTION_ATTRIBUTES", "SAFE_NAMES", "_Scopes", "_restricted_errors",
           "check_expression"]
