"""Recording a call's execution as statement-level steps with values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Step", "Trace", "default_sandbox", "trace", "trace_many"]

if TYPE_CHECKING:
    from stepreward.trace._api import default_sandbox, trace, trace_many
    from stepreward.types import Step, Trace


def __getattr__(name: str) -> Any:
    # Lazy: the sandbox template imports stepreward.trace._child without site-packages.
    if name in ("trace", "trace_many", "default_sandbox"):
        from stepreward.trace import _api

        return getattr(_api, name)
    if name in ("Step", "Trace"):
        from stepreward import types

        return getattr(types, name)
    raise AttributeError(f"module 'stepreward.trace' has no attribute {name!r}")
