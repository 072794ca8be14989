"""The built-in question kinds, one module each; importing this package registers them all.

Every module of this folder is loaded, in name order, and registers its kind with
:func:`stepreward.questions.register_kind` at its bottom: a new built-in kind is one new file
here (copy ``coverage.py``, the smallest), plus its tests.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__: list[str] = []

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
