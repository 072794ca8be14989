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



def _isclose(got: Any, expected: Any, rtol: float, atol: float) -> bool:
    """``math.isclose(got, expected, rel_tol=rtol, abs_tol=atol)`` as Python evaluates it."""
    got = got.value if type(got) is NumpyScalar else got
    expected = expected.value if type(expected) is NumpyScalar else expected
    real = (bool, int, float)
    if type(got) not in real or type(expected) not in real:
        return False  # math.isclose raises TypeError: the assertion fails
    try:
        return math.isclose(got, expected, rel_tol=rtol, abs_tol=atol)
    except (OverflowError, TypeError, ValueError):
        return False


def _allclose_element(x: Any, y: Any, rtol: float, atol: float, equal_nan: bool) -> bool:
    """numpy's isclose on two elements: |x - y| <= atol + rtol * |y|; infinities equal only
    to themselves; NaN equal to NaN only with ``equal_nan``; non-numbers only when equal."""
    x = x.value if type(x) is NumpyScalar else x
    y = y.value if type(y) is NumpyScalar else y
    numbers = (bool, int, float, complex)
    if type(x) not in numbers or type(y) not in numbers:
        return rtol == 0.0 and atol == 0.0 and type(x) is type(y) and bool(x == y)
    if type(x) is complex or type(y) is complex:
        cx, cy = complex(x), complex(y)
        if any(math.isnan(v) for v in (cx.real, cx.imag, cy.real, cy.imag)):
            return equal_nan and all(math.isnan(a) == math.isnan(b) for a, b in
                                     ((cx.real, cy.real), (cx.imag, cy.imag)))
        try:
            return bool(abs(cx - cy) <= atol + rtol * abs(cy))
        except OverflowError:
            return False
    x_nan = type(x) is float and math.isnan(x)
    y_nan = type(y) is float and math.isnan(y)
    if x_nan or y_nan:
        return equal_nan and x_nan and y_nan
    if (type(x) is float and math.isinf(x)) or (type(y) is float and math.isinf(y)):
        return bool(x == y)
    try:
        return bool(abs(x - y) <= atol + rtol * abs(y))
    except OverflowError:
        return False


def _allclose(got: Any, expected: Any, rtol: float, atol: float, equal_nan: bool) -> bool:
    """``np.allclose(got, expected, rtol, atol, equal_nan)`` (``array_equal`` with both 0),
    on arrays of one shape (or the lists and scalars given for them; no broadcasting)."""
    got = got.value if type(got) is NumpyScalar else got
    expected = expected.value if type(expected) is NumpyScalar else expected
    if type(got) in (list, tuple, NumpyArray) or type(expected) in (list, tuple, NumpyArray):
        try:
            a = got if type(got) is NumpyArray else NumpyArray.from_data(got)
            b = expected if type(expected) is NumpyArray else NumpyArray.from_data(expected)
        except ValueError:  # not array-like: ragged, mixed, a dict...
            return False
        if a.shape != b.shape:
            return False
        return all(_allclose_element(x, y, rtol, atol, equal_nan)
                   for x, y in zip(a.flat(), b.flat(), strict=True))
    return _allclose_element(got, expected, rtol, atol, equal_nan)


def value_matches(case: TestCase, got: Any) -> tuple[bool, str]:
    """Whether ``got`` (decoded) passes the value comparison of call test ``case``, and why not.

    ``abs_lt``/``abs_le``: ``abs(got - expected) < atol`` (or ``<=``) as Python evaluates it.
    ``isclose``: ``math.isclose`` with the test's ``rtol`` and ``atol``; ``allclose``(``_nan``):
    numpy's ``allclose``. ``equal`` with numpy in the expected value: EvalPlus's
    allclose-style comparison (``atol`` 1e-6 unless the test sets one). Otherwise
    :func:`~stepreward.values.values_equal` at the expected value's precision, with ``atol``
    as its float tolerance when the test sets one (never widened by the type the code returns:
    ``np.float64(2.9999995)`` is not 3). Raises ValueError on a malformed expected literal.

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
    if case.compare == "isclose":
        return _isclose(got, expected, case.rtol, case.atol), "wrong value"
    if case.compare in ("allclose", "allclose_nan"):
        ok = _allclose(got, expected, case.rtol, case.atol, case.compare == "allclose_nan")
        return ok, "" if ok else _numpy_mismatch(got, expected)
    # The tolerance comes from the test and its expected value, never from the type the
    # code returned: numpy's float comparison only where the expected value is numpy.
    if contains_numpy(expected):
        ok = _numpy_close(got, expected, case.atol or NUMPY_ATOL)
        return ok, "" if ok else _numpy_mismatch(got, expected)
    try:
        ok = values_equal(got, expected, float_tol=case.atol, precision="expected")
    except (TypeError, ValueError):  # beyond the comparison's size bounds
        ok = False
    return ok, "wrong value"
