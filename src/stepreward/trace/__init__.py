"""Recording a call's execution as statement-level steps with values.

``stepreward.trace`` is both this package and the function ``trace``: the package is callable,
so ``import stepreward as sr; sr.trace(source, call)`` works however it was imported.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from stepreward._lazy import lazy_exports

__all__ = ["Step", "Trace", "default_sandbox", "set_default_sandbox", "trace", "trace_many"]

if TYPE_CHECKING:
    from stepreward.trace._api import default_sandbox, set_default_sandbox, trace, trace_many
    from stepreward.types import Step, Trace


# The sandbox template imports stepreward.trace._child without site-packages.
__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.trace._api": ["default_sandbox", "set_default_sandbox", "trace", "trace_many"],
    "stepreward.types": ["Step", "Trace"],
})


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from stepreward.trace._api import trace as _trace

        return _trace(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
