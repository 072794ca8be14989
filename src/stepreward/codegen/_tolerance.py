"""Tolerance judging: whether a returned value is close enough to the expected one.

A call test carries its comparison (``TestCase.compare``) and tolerance (``TestCase.atol``);
:func:`value_matches` applies them to a decoded return value. Everything about how close is
close enough lives here, so a change of those rules stays in this one module.
"""

from __future__ import annotations

import math
from typing import Any

from stepreward.types import TestCase
from stepreward.values import NumpyArray, NumpyScalar, contains_numpy, from_literal, values_equal

__all__ = ["NUMPY_ATOL", "NUMPY_RTOL", "value_matches"]

# EvalPlus's comparison of float outputs: np.allclose-style |got - expected| <= atol +
# rtol * |expected|, with atol 1e-6 where the task sets none; NaN matches NaN.
NUMPY_RTOL = 1e-07
NUMPY_ATOL = 1e-06


def _close(x: Any, y: Any, atol: float) -> bool:
    if type(x) is complex or type(y) is complex:
        cx, cy = complex(x), complex(y)
        return _close(cx.real, cy.real, atol) and _close(cx.imag, cy.imag, atol)
    x_nan = type(x) is float and math.isnan(x)
    y_nan = type(y) is float and math.isnan(y)
    if x_nan or y_nan:
        return x_nan and y_nan
    if x == y:  # also equal infinities
        return True
    try:
        return bool(abs(x - y) <= atol + NUMPY_RTOL * abs(y))
    except OverflowError:
        return False


def _numpy_close(got: Any, expected: Any, atol: float, depth: int = 0) -> bool:
    """EvalPlus-style: arrays (or the lists given for them) of the same shape, float or
    complex elements within ``atol`` (allclose), others exactly equal; numpy scalars as their
    values; lists, tuples and dicts elementwise."""
    if depth > 100:
        return False
    got = got.value if type(got) is NumpyScalar else got
    expected = expected.value if type(expected) is NumpyScalar else expected
    tg, te = type(got), type(expected)
    if tg is NumpyArray or te is NumpyArray:
        try:
            a = got if tg is NumpyArray else NumpyArray.from_data(got)
            b = expected if te is NumpyArray else NumpyArray.from_data(expected)
        except ValueError:  # not array-like: a dict, a ragged list, mixed strings...
            return False
        if a.shape != b.shape:
            return False
        if (a.dtype == "str") != (b.dtype == "str"):
            return False
        xs, ys = a.flat(), b.flat()
        return all(_numpy_close(x, y, atol, depth + 1) for x, y in zip(xs, ys, strict=True))
    numbers = (bool, int, float, complex)
    if tg in numbers and te in numbers:
        if float in (tg, te) or complex in (tg, te):
            return _close(got, expected, atol)
        return bool(got == expected)
    if tg in (list, tuple) and te is tg:
        return len(got) == len(expected) and all(
            _numpy_close(x, y, atol, depth + 1) for x, y in zip(got, expected, strict=True))
    if tg is dict and te is dict:
        return got.keys() == expected.keys() and all(
            _numpy_close(got[k], expected[k], atol, depth + 1) for k in got)
    try:
        return values_equal(got, expected)
    except (TypeError, ValueError):
        return False


def _numpy_mismatch(got: Any, expected: Any) -> str:
    """Why a numpy result failed, in words (the shape when that is what differs)."""
    if type(got) is NumpyArray or type(expected) is NumpyArray:
        try:
            a = got if type(got) is NumpyArray else NumpyArray.from_data(got)
            b = expected if type(expected) is NumpyArray else NumpyArray.from_data(expected)
        except ValueError:
            return "wrong value: not an array of the expected shape"
        if a.shape != b.shape:
            return f"wrong shape: {a.shape}, expected {b.shape}"
    return "wrong value"


def _within(got: Any, expected: Any, tol: float, inclusive: bool) -> bool:
    """``abs(got - expected) < tol`` (or ``<=``) as Python evaluates it, on plain numbers."""
    numbers = (int, float, complex)
    got = got.value if type(got) is NumpyScalar else got
    expected = expected.value if type(expected) is NumpyScalar else expected
    if not (isinstance(got, numbers) and isinstance(expected, numbers)):
        return False  # the assertion would raise TypeError: a failure
    try:
        diff = abs(got - expected)
    except (OverflowError, TypeError):
        return False
    return bool(diff <= tol if inclusive else diff < tol)



def value_matches(case: TestCase, got: Any) -> tuple[bool, str]:
    """Whether ``got`` (decoded) passes the value comparison of call test ``case``, and why not.

    ``abs_lt``/``abs_le``: ``abs(got - expected) < atol`` (or ``<=``) as Python evaluates it.
    ``equal`` with numpy anywhere: EvalPlus's allclose-style comparison (``atol`` 1e-6 unless
    the test sets one). Otherwise :func:`~stepreward.values.values_equal`, with ``atol`` as its
    float tolerance when the test sets one. Raises ValueError on a malformed expected literal.

    Example:
        >>> value_matches(TestCase.call("f", (), 0.3), 0.1 + 0.2)
        (False, 'wrong value')
        >>> value_matches(TestCase.call("f", (), 0.3, atol=1e-9), 0.1 + 0.2)
        (True, 'wrong value')
    """
    if case.compare in ("abs_lt", "abs_le"):
        return _within(got, from_literal(case.expected), case.atol,
                       case.compare == "abs_le"), "wrong value"
    expected = from_literal(case.expected)
    if contains_numpy(got) or contains_numpy(expected):
        ok = _numpy_close(got, expected, case.atol or NUMPY_ATOL)
        return ok, "" if ok else _numpy_mismatch(got, expected)
    try:
        ok = values_equal(got, expected, float_tol=case.atol) if case.atol else \
            values_equal(got, expected)
    except (TypeError, ValueError):  # beyond the comparison's size bounds
        ok = False
    return ok, "wrong value"
