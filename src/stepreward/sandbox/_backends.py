"""Sandbox backends by name, so that the base class never imports a backend.

``Sandbox(backend=name)`` looks the name up here. A backend module registers its class when it
is imported (:func:`register_backend`); the built-in ones are also listed by module path and
imported on first use, so ``Sandbox(backend="ray")`` works in a fresh process. The base class
lives in ``_pool``, the Ray backend in ``_ray``, which imports ``_pool``: one direction.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["backend_class", "backend_names", "register_backend"]

LOCAL = "local"  # Sandbox itself
# Built-in backends: name -> the module that registers it when imported.
_MODULES: dict[str, str] = {"ray": "stepreward.sandbox._ray"}
_CLASSES: dict[str, type[Any]] = {}


def register_backend(name: str, cls: type[Any]) -> None:
    """Make ``Sandbox(backend=name, ...)`` build a ``cls`` (a subclass of Sandbox).

    Example:
        >>> from stepreward.sandbox._ray import RaySandbox
        >>> register_backend("ray", RaySandbox)
        >>> backend_class("ray") is RaySandbox
        True
    """
    if not isinstance(name, str) or not name or name == LOCAL:
        raise ValueError(f"a backend name must be a non-empty string other than 'local', "
                         f"got {name!r}")
    _CLASSES[name] = cls


def backend_names() -> tuple[str, ...]:
    """Every backend name ``Sandbox(backend=...)`` accepts, ``'local'`` first."""
    return (LOCAL, *sorted(set(_MODULES) | set(_CLASSES)))


def backend_class(name: str) -> type[Any]:
    """The class registered as backend ``name``, importing a built-in backend's module first.

    ValueError for a name that is not a backend (``'local'`` is the base class, not here).
    """
    cls = None
    if isinstance(name, str):
        if name not in _CLASSES and name in _MODULES:
            importlib.import_module(_MODULES[name])
        cls = _CLASSES.get(name)
    if cls is None:
        choices = " or ".join(repr(n) for n in backend_names())
        raise ValueError(f"backend must be {choices}, got {name!r}")
    return cls
