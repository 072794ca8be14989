"""Lazy exports: a package's public names, each imported from its own module on first use.

Every package of stepreward defines its public names this way, so that importing a package
costs nothing until a name is used, and so that the sandbox template, which starts without
site-packages, can import the task-side modules of a package without loading its trainer-side
ones (pydantic, psutil). Standard library only.

The mapping is written as ``{module: [names]}``; ``tests/package/test_layers.py`` reads its
module names as imports of the package, so a lazy export is checked against the layers like
any other import.

Example:
    >>> import types
    >>> pkg = types.ModuleType("demo")
    >>> pkg.__getattr__, pkg.__dir__ = lazy_exports(pkg, {"json": ["dumps", "loads"]})
    >>> pkg.dumps([1])
    '[1]'
    >>> "loads" in dir(pkg)
    True
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str | types.ModuleType, exports: Mapping[str, Sequence[str]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` that load ``exports`` on first use.

    ``exports`` maps a module's dotted name to the names the package takes from it. A name
    whose module is the package's submodule of that very name (``{"pkg.sub": ["sub"]}``)
    exports the submodule itself. Any other public submodule is reachable as an attribute too,
    imported on first access (``stepreward.integrations`` before anyone imported it). A loaded
    name is kept in the package's namespace, so the lookup runs once.

    Example:
        >>> import types
        >>> pkg = types.ModuleType("demo")
        >>> pkg.__getattr__, _ = lazy_exports(pkg, {"math": ["pi"]})
        >>> round(pkg.pi, 2)
        3.14
        >>> pkg.tau
        Traceback (most recent call last):
        ...
        AttributeError: module 'demo' has no attribute 'tau'
    """
    module = sys.modules[package] if isinstance(package, str) else package
    name_of_package = module.__name__
    namespace = module.__dict__
    where: dict[str, str] = {}
    for source, names in exports.items():
        if isinstance(names, str):
            raise TypeError(f"lazy_exports: the names from {source!r} must be a list, "
                            "not a string")
        for name in names:
            if where.setdefault(name, source) != source:
                raise ValueError(f"lazy_exports: {name!r} is exported from both "
                                 f"{where[name]!r} and {source!r}")

    def __getattr__(name: str) -> Any:
        source = where.get(name)
        if source is None:
            value = _public_submodule(name_of_package, name)
        elif source == f"{name_of_package}.{name}":
            value = importlib.import_module(source)
        else:
            value = getattr(importlib.import_module(source), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__


def _public_submodule(package: str, name: str) -> types.ModuleType:
    """The submodule ``package.name``, imported; AttributeError when there is none."""
    if not name.startswith("_"):
        full = f"{package}.{name}"
        loaded = sys.modules.get(full)
        if loaded is not None:
            return loaded
        parent = sys.modules.get(package)
        if parent is not None and getattr(parent, "__path__", None) is not None \
                and importlib.util.find_spec(full) is not None:
            return importlib.import_module(full)
    raise AttributeError(f"module {package!r} has no attribute {name!r}")
