"""Canonical JSON encoding, safe parsing, type naming and comparison of Python literal values.

This package is imported inside the sandbox child, which runs with ``python -S``: it uses the
standard library only, and it never runs user code (no user ``__eq__``, ``__hash__``,
``__iter__`` or ``__repr__``) except in :func:`safe_repr`, which exists to do exactly that.

Its modules, each imported only by those after it in this list:

* ``_typenames``: :func:`type_name`, :func:`normalize_type_name`.
* ``_numpy``: the stand-ins :class:`NumpyArray` and :class:`NumpyScalar`, numpy's dtypes,
  :func:`contains_numpy`, :func:`realize_numpy`. Their ``==`` and ``repr`` use comparison and
  rendering, which sit above them, through this package at call time.
* ``_encoding``: the canonical literal (:func:`to_literal`, :func:`from_literal`,
  :func:`dumps_literal`, :func:`loads_literal`, :data:`NOT_LITERAL`).
* ``_parsing``: :func:`parse_value`, model-written literals without ``eval``.
* ``_comparison``: :func:`values_equal`, :func:`literals_equal`.
* ``_rendering``: :func:`render_literal`, :func:`safe_repr`.

Example:
    >>> from stepreward.values import parse_value, render_literal, to_literal, values_equal
    >>> value = parse_value("{'a': (1, 2.0)}")
    >>> render_literal(to_literal(value)), values_equal(value, {"a": (1, 2)})
    ("{'a': (1, 2.0)}", True)
"""

from __future__ import annotations

from stepreward.values._comparison import literals_equal, values_equal
from stepreward.values._encoding import (
    NOT_LITERAL,
    JSONValue,
    NotLiteralType,
    dumps_literal,
    from_literal,
    loads_literal,
    to_literal,
)
from stepreward.values._numpy import (
    NUMPY_DTYPES,
    NumpyArray,
    NumpyScalar,
    contains_numpy,
    realize_numpy,
)
from stepreward.values._parsing import parse_value
from stepreward.values._rendering import render_literal, safe_repr
from stepreward.values._typenames import normalize_type_name, type_name

__all__ = [
    "NOT_LITERAL",
    "NUMPY_DTYPES",
    "JSONValue",
    "NotLiteralType",
    "NumpyArray",
    "NumpyScalar",
    "contains_numpy",
    "dumps_literal",
    "from_literal",
    "literals_equal",
    "loads_literal",
    "normalize_type_name",
    "parse_value",
    "realize_numpy",
    "render_literal",
    "safe_repr",
    "to_literal",
    "type_name",
    "values_equal",
]

# The public classes answer to the package's name (in reprs, pickles and type_name), so that
# where a class is defined inside the package stays an implementation detail.
for _cls in (NotLiteralType, NumpyArray, NumpyScalar):
    _cls.__module__ = __name__
del _cls
