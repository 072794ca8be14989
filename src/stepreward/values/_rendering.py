"""Rendering: a literal as Python source text, and a bounded ``repr`` of any object."""

from __future__ import annotations

import math
from typing import Any

from stepreward.values._encoding import NOT_LITERAL, dumps_literal, from_literal, to_literal
from stepreward.values._numpy import (
    _NP_FAMILY,
    NumpyArray,
    NumpyScalar,
    _np_infer,
    _np_leaves,
    _short_float,
)
from stepreward.values._typenames import type_name


def safe_repr(obj: object, limit: int = 200) -> tuple[str, bool]:
    """``repr(obj)`` cut to ``limit`` characters, as ``(text, truncated)``.

    Runs user code (``__repr__``); if that raises an Exception, returns
    ``("<unrepresentable TYPE>", False)`` instead.  The full repr is built before cutting.

    Example:
        >>> safe_repr(list(range(100)), limit=10)
        ('[0, 1, 2, ', True)
        >>> safe_repr("ok")
        ("'ok'", False)
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    try:
        text = repr(obj)
        length = str.__len__(text)
        # str's own slicing: returns an exact str even for a str subclass, without its methods.
        cut = str.__getitem__(text, slice(0, limit))
    except Exception:
        return f"<unrepresentable {type_name(obj)}>", False
    return cut, length > limit


def _render(obj: object, depth: int) -> str:
    if depth > 200:
        raise ValueError("literal nested too deeply to render")
    cls = type(obj)
    if obj is None or cls is bool or cls is int or cls is str or cls is bytes:
        return repr(obj)
    if cls is float:
        f = float(obj)  # type: ignore[arg-type]
        if math.isnan(f):
            return "float('nan')"
        if math.isinf(f):
            return "float('inf')" if f > 0 else "float('-inf')"
        return repr(f)
    if cls is complex:
        return repr(obj)
    if cls is list:
        return "[" + ", ".join(_render(x, depth + 1) for x in obj) + "]"  # type: ignore[attr-defined]
    if cls is tuple:
        items = [_render(x, depth + 1) for x in obj]  # type: ignore[attr-defined]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if cls is dict:
        return "{" + ", ".join(f"{_render(k, depth + 1)}: {_render(v, depth + 1)}"
                               for k, v in obj.items()) + "}"  # type: ignore[attr-defined]
    if cls is set or cls is frozenset:
        # Canonical element order (the encoding's), not the hash-seed dependent iteration order.
        parts = [_render(x, depth + 1) for x in _canonical_order(obj)]  # type: ignore[arg-type]
        inner = "{" + ", ".join(parts) + "}" if parts else ""
        if cls is frozenset:
            return f"frozenset({inner})"
        return inner or "set()"
    if cls is range:
        r: range = obj  # type: ignore[assignment]
        return f"range({r.start}, {r.stop})" if r.step == 1 else (
            f"range({r.start}, {r.stop}, {r.step})")
    if cls is NumpyScalar:
        assert isinstance(obj, NumpyScalar)
        if obj.dtype == "bool":
            return "np.True_" if obj.value else "np.False_"
        name = "str_" if obj.dtype == "str" else obj.dtype
        return f"np.{name}({_np_render_element(obj.value, obj.dtype)})"
    if cls is NumpyArray:
        assert isinstance(obj, NumpyArray)
        return _np_render_array(obj)
    raise ValueError(f"not a literal value: {cls.__name__}")


def _np_render_element(value: Any, dtype: str) -> str:
    family = _NP_FAMILY[dtype]
    if family == "float":
        return _short_float(value, dtype)
    if family == "complex" and not (math.isfinite(value.real) and math.isfinite(value.imag)):
        return f"complex({_short_float(value.real, 'float64')}, " \
               f"{_short_float(value.imag, 'float64')})"
    return repr(value)  # complex parts as float64 reprs: exact, if longer than numpy's


def _np_render_data(data: Any, dtype: str, ndim: int) -> str:
    if ndim:
        return "[" + ", ".join(_np_render_data(x, dtype, ndim - 1) for x in data) + "]"
    return _np_render_element(data, dtype)


def _np_render_array(arr: NumpyArray) -> str:
    # Nested lists cannot show a zero-length dimension with more after it: np.empty can.
    if 0 in arr.shape[:-1]:
        dims = ", ".join(map(str, arr.shape)) + ("," if arr.ndim == 1 else "")
        dtype = "" if arr.dtype == "float64" else f", dtype=np.{_np_attr(arr.dtype)}"
        return f"np.empty(({dims}){dtype})"
    text = _np_render_data(arr.data, arr.dtype, arr.ndim)
    if _np_infer(_np_leaves(arr.data)) == arr.dtype:
        return f"np.array({text})"
    return f"np.array({text}, dtype=np.{_np_attr(arr.dtype)})"


def _np_attr(dtype: str) -> str:
    return {"bool": "bool_", "str": "str_"}.get(dtype, dtype)


def _canonical_order(items: set[Any] | frozenset[Any]) -> list[Any]:
    keyed = []
    for item in items:
        lit = to_literal(item)
        if lit is NOT_LITERAL:
            raise ValueError("set element is not a literal")
        keyed.append((dumps_literal(lit), item))
    keyed.sort(key=lambda pair: pair[0])
    return [item for _, item in keyed]


def render_literal(lit: object) -> str:
    """Python source text for a canonical literal, identical on every interpreter and seed.

    Set elements appear in canonical order; non-finite floats as ``float('inf')``; the text
    parses back with :func:`parse_value`.

    Example:
        >>> render_literal(to_literal({3, 1, 2}))
        '{1, 2, 3}'
        >>> render_literal(to_literal((float("nan"),)))
        "(float('nan'),)"
    """
    return _render(from_literal(lit), 0)
