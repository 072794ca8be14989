"""Comparison of decoded literal values: ``==`` semantics, NaN equal to NaN, float tolerance."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from stepreward.values._encoding import from_literal
from stepreward.values._numpy import (
    _COMPARABLE_TYPES,
    _NP_FAMILY,
    _NUMBER_TYPES,
    NumpyArray,
    NumpyScalar,
    _round_float,
)
from stepreward.values._typenames import type_name

_MAX_COMPARE_DEPTH: Final = 200
_MAX_COMPARE_NODES: Final = 1_000_000
# Largest set compared by a full bipartite matching when a float tolerance is in use.
_SET_MATCH_CAP: Final = 256


def _check_comparable(value: object) -> None:
    """Raise TypeError for non-literal types, ValueError for too deep (or cyclic) or too big."""
    stack: list[tuple[object, int]] = [(value, 0)]
    nodes = 0
    while stack:
        obj, depth = stack.pop()
        nodes += 1
        if nodes > _MAX_COMPARE_NODES:
            raise ValueError(f"value too large to compare (over {_MAX_COMPARE_NODES} nodes)")
        cls = type(obj)
        if cls not in _COMPARABLE_TYPES:
            raise TypeError(f"values_equal compares decoded literals only, got {type_name(obj)}")
        if type(obj) is NumpyArray:
            nodes += obj.size  # validated when built: plain scalars in a fixed shape
            continue
        if type(obj) is dict:
            children: list[object] = [*obj.keys(), *obj.values()]
        elif type(obj) in (list, tuple, set, frozenset):
            children = list(obj)  # type: ignore[call-overload]
        else:
            continue
        if depth >= _MAX_COMPARE_DEPTH:
            raise ValueError(f"value nested deeper than {_MAX_COMPARE_DEPTH} (or cyclic)")
        stack.extend((child, depth + 1) for child in children)


# Float widths below float64, narrowest first; complex64 has float32 parts.
_NP_NARROW: Final[dict[str, str]] = {"float16": "float16", "float32": "float32",
                                     "complex64": "float32"}


def _np_narrowest(*dtypes: str | None) -> str | None:
    widths = [_NP_NARROW[d] for d in dtypes if d in _NP_NARROW]
    return min(widths, key=("float16", "float32").index) if widths else None


def _np_round(value: Any, width: str) -> Any:
    if type(value) is float:
        return _round_float(value, width)
    if type(value) is complex:
        return complex(_round_float(value.real, width), _round_float(value.imag, width))
    return value


def _np_round_data(data: Any, width: str) -> Any:
    if type(data) is list:
        return [_np_round_data(item, width) for item in data]
    return _np_round(data, width)


def _np_unwrap_pair(a: Any, b: Any, b_only: bool = False) -> tuple[Any, Any]:
    da = a.dtype if type(a) is NumpyScalar else None
    db = b.dtype if type(b) is NumpyScalar else None
    a = a.value if da else a
    b = b.value if db else b
    width = _np_narrowest(db) if b_only else _np_narrowest(da, db)
    if width is not None:
        return _np_round(a, width), _np_round(b, width)
    return a, b


def _has_nan(value: object) -> bool:
    if type(value) is NumpyScalar:
        value = value.value
    if type(value) is float:
        return math.isnan(value)
    if type(value) is complex:
        return math.isnan(value.real) or math.isnan(value.imag)
    if type(value) is tuple or type(value) is frozenset:
        return any(_has_nan(item) for item in value)
    return False


def _perfect_matching(
    xs: list[Any], ys: list[Any], pred: Callable[[Any, Any], bool], equivalence: bool
) -> bool:
    """Whether ``pred`` pairs every x with a distinct y (``len(xs) == len(ys)``)."""
    if equivalence:  # greedy is exact when pred is an equivalence relation
        remaining = list(ys)
        for x in xs:
            for index, y in enumerate(remaining):
                if pred(x, y):
                    del remaining[index]
                    break
            else:
                return False
        return True
    n = len(xs)
    if n > _SET_MATCH_CAP:
        return False
    adjacency = [[j for j, y in enumerate(ys) if pred(x, y)] for x in xs]
    match_x = [-1] * n
    match_y = [-1] * n
    for start in range(n):
        # Breadth-first search for an augmenting path from `start`.
        parent: dict[int, int] = {}  # y -> the x it was reached from
        queue = [start]
        found = -1
        head = 0
        while head < len(queue) and found < 0:
            x = queue[head]
            head += 1
            for y in adjacency[x]:
                if y in parent:
                    continue
                parent[y] = x
                if match_y[y] < 0:
                    found = y
                    break
                queue.append(match_y[y])
        if found < 0:
            return False
        y = found
        while True:
            x = parent[y]
            previous = match_x[x]
            match_x[x] = y
            match_y[y] = x
            if x == start:
                break
            y = previous
    return True


class _Comparer:
    __slots__ = ("b_only", "exact", "tol")

    def __init__(self, tol: float, b_only: bool = False) -> None:
        self.tol = tol
        self.b_only = b_only  # narrow float precision from b (the expected value) only
        self.exact: _Comparer = self if tol == 0.0 else _Comparer(0.0, b_only)

    def eq(self, a: Any, b: Any) -> bool:
        # A numpy scalar compares as its Python value (np.int64(3) == 3 == 3.0, as in numpy),
        # at the precision of a narrow float dtype: 0.1 matches np.float32(0.1).
        if type(a) is NumpyScalar or type(b) is NumpyScalar:
            a, b = _np_unwrap_pair(a, b, self.b_only)
        ta = type(a)
        tb = type(b)
        if ta is NumpyArray or tb is NumpyArray:
            return ta is tb and self._array_eq(a, b)
        if ta in _NUMBER_TYPES:
            return tb in _NUMBER_TYPES and self._number_eq(a, b)
        if ta is list or ta is tuple:
            if tb is not ta or len(a) != len(b):
                return False
            return all(self.eq(x, y) for x, y in zip(a, b, strict=True))
        if ta is dict:
            return tb is dict and self._dict_eq(a, b)
        if ta is set or ta is frozenset:
            return (tb is set or tb is frozenset) and self._set_eq(a, b)
        # None, str, bytes, range: plain == between the same exact types (C code only).
        return ta is tb and bool(a == b)

    def _array_eq(self, a: NumpyArray, b: NumpyArray) -> bool:
        if a.shape != b.shape or _NP_FAMILY[a.dtype] != _NP_FAMILY[b.dtype]:
            return False
        # Same shape and family: the nested lists hold numbers of one kind, or strings.
        narrow = _np_narrowest(b.dtype) if self.b_only else _np_narrowest(a.dtype, b.dtype)
        if narrow is not None and a.dtype != b.dtype:
            return self.eq(_np_round_data(a.data, narrow), _np_round_data(b.data, narrow))
        return self.eq(a.data, b.data)

    def _real_eq(self, x: Any, y: Any) -> bool:
        x_nan = type(x) is float and math.isnan(x)
        y_nan = type(y) is float and math.isnan(y)
        if x_nan or y_nan:
            return x_nan and y_nan
        if self.tol > 0.0 and (type(x) is float or type(y) is float):
            try:
                return math.isclose(x, y, rel_tol=self.tol, abs_tol=self.tol)
            except OverflowError:  # an int too large for a float
                return bool(x == y)
        return bool(x == y)

    def _number_eq(self, a: Any, b: Any) -> bool:
        if type(a) is complex or type(b) is complex:
            a_re, a_im = (a.real, a.imag) if type(a) is complex else (a, 0)
            b_re, b_im = (b.real, b.imag) if type(b) is complex else (b, 0)
            return self._real_eq(a_re, b_re) and self._real_eq(a_im, b_im)
        return self._real_eq(a, b)

    def _dict_eq(self, a: dict[Any, Any], b: dict[Any, Any]) -> bool:
        if len(a) != len(b):
            return False
        rest_a: list[tuple[Any, Any]] = []
        for key, value in a.items():
            # A NaN-free key equals (under our rules) exactly the key Python's lookup finds.
            if not _has_nan(key) and key in b:
                if not self.eq(value, b[key]):
                    return False
            else:
                rest_a.append((key, value))
        if not rest_a:
            return True
        rest_b = [(k, v) for k, v in b.items() if _has_nan(k) or k not in a]
        if len(rest_a) != len(rest_b):
            return False
        return _perfect_matching(
            rest_a,
            rest_b,
            lambda p, q: self.exact.eq(p[0], q[0]) and self.eq(p[1], q[1]),
            self.tol == 0.0,
        )

    def _set_eq(self, a: set[Any] | frozenset[Any], b: set[Any] | frozenset[Any]) -> bool:
        if len(a) != len(b):
            return False
        if self.tol > 0.0 and len(a) <= _SET_MATCH_CAP:
            return _perfect_matching(list(a), list(b), self.eq, False)
        rest_a = [x for x in a if _has_nan(x) or x not in b]
        if not rest_a:
            return True
        rest_b = [y for y in b if _has_nan(y) or y not in a]
        if len(rest_a) != len(rest_b):
            return False
        return _perfect_matching(rest_a, rest_b, self.eq, self.tol == 0.0)


def values_equal(a: object, b: object, *, float_tol: float = 0.0,
                 precision: str = "narrowest") -> bool:
    """Compare two decoded literal values with Python ``==`` semantics, recursively.

    A numpy float16/float32 (scalar or array) compares at the narrower precision of the two
    values (``precision="narrowest"``), or, with ``precision="expected"``, at the precision
    of ``b`` only: ``b`` is the expected value, and an answer's own narrow dtype must not
    widen what it matches (``np.float16(3.143)`` is not 22/7, which is a float).

    So ``1 == 1.0 == True``, ``[1] != (1,)``, dicts compare regardless of order, sets and
    frozensets compare as sets.  Differences from ``==``: NaN equals NaN everywhere (a gold
    ``nan`` matches an answered ``nan``), and with ``float_tol > 0`` any comparison involving
    a float (including complex parts, set elements and dict values, at any depth) uses
    ``math.isclose(x, y, rel_tol=float_tol, abs_tol=float_tol)``.  Dict keys always compare
    exactly.  Sets are compared with tolerance by a full bipartite matching when they have at
    most 256 elements; larger sets first pair exactly equal elements and then match at most
    256 leftovers (more leftovers compare unequal).

    Only the literal types of :func:`to_literal` are accepted (TypeError otherwise); values
    nested deeper than 200 levels (or cyclic) raise ValueError.  No user code is run.

    Example:
        >>> values_equal({1: [2.0, float("nan")]}, {True: [2, float("nan")]})
        True
        >>> values_equal([1], (1,)), values_equal({0.1 + 0.2}, {0.3}, float_tol=1e-9)
        (False, True)
        >>> from stepreward.values import parse_value
        >>> f16 = parse_value("np.float16(3.143)")
        >>> values_equal(f16, 22 / 7), values_equal(f16, 22 / 7, precision="expected")
        (True, False)
    """
    if not float_tol >= 0.0:
        raise ValueError(f"float_tol must be >= 0, got {float_tol!r}")
    if precision not in ("narrowest", "expected"):
        raise ValueError(f"precision must be 'narrowest' or 'expected', got {precision!r}")
    _check_comparable(a)
    _check_comparable(b)
    try:
        return _Comparer(float(float_tol), precision == "expected").eq(a, b)
    except RecursionError as exc:
        raise ValueError("values nested too deeply to compare") from exc


def literals_equal(lit_a: object, lit_b: object, *, float_tol: float = 0.0) -> bool:
    """Decode two canonical literals with :func:`from_literal` and compare with
    :func:`values_equal`.

    Example:
        >>> literals_equal({"set": [1, 2]}, {"frozenset": [2.0, 1]})
        True
    """
    return values_equal(from_literal(lit_a), from_literal(lit_b), float_tol=float_tol)

