"""Running untrusted Python: isolation, limits, the worker pool and batching."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ExecResult", "Limits", "RaySandbox", "Sandbox"]

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox
    from stepreward.sandbox._ray import RaySandbox
    from stepreward.types import ExecResult, Limits


def __getattr__(name: str) -> Any:
    # Lazy: the template process imports this package without site-packages (no pydantic).
    if name == "Sandbox":
        from stepreward.sandbox._pool import Sandbox

        return Sandbox
    if name == "RaySandbox":
        from stepreward.sandbox._ray import RaySandbox

        return RaySandbox
    if name in ("ExecResult", "Limits"):
        from stepreward import types

        return getattr(types, name)
    raise AttributeError(f"module 'stepreward.sandbox' has no attribute {name!r}")
