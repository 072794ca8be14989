"""Running untrusted Python: isolation, limits, the worker pool and batching."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepreward._lazy import lazy_exports

__all__ = ["ExecResult", "Limits", "RaySandbox", "Sandbox"]

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox
    from stepreward.sandbox._ray import RaySandbox
    from stepreward.types import ExecResult, Limits

# The template process imports this package without site-packages (no pydantic, no psutil).
__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.sandbox._pool": ["Sandbox"],
    "stepreward.sandbox._ray": ["RaySandbox"],
    "stepreward.types": ["ExecResult", "Limits"],
})
