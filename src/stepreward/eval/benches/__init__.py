"""The built-in benchmarks, one module per benchmark family; importing this package registers
them all.

Every module of this folder is loaded, in name order, and registers its benches with
:func:`stepreward.eval.register_bench` at its bottom: a new benchmark is one new file here
(copy ``mbpp.py``), plus a small fixture under ``tests/fixtures/eval/`` and its tests.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__: list[str] = []

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
