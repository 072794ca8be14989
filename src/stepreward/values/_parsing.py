"""Safe parsing of model-written Python literals, numpy values included, without ``eval``."""

from __future__ import annotations

import ast
import math
import threading
import warnings
from typing import Any, Final, NoReturn

from stepreward.values._encoding import _INT_LIMIT, _MAX_INT_DIGITS
from stepreward.values._numpy import (
    _NP_COMPLEX,
    _NP_FAMILY,
    _NP_MODULE_NAMES,
    _NP_SCALAR_CALLS,
    NumpyArray,
    NumpyScalar,
    _np_cast,
    _np_dtype_name,
    _np_empty,
)

_WARNINGS_LOCK: Final = threading.Lock()

_SPECIAL_NAMES: Final[dict[str, float]] = {"inf": math.inf, "nan": math.nan}
_CONSTANT_TYPES: Final = (type(None), bool, int, float, complex, str, bytes)
_ITERABLE_ARG_TYPES: Final = (list, tuple, set, frozenset)


# numpy constants a model may write (``np.nan``, ``numpy.inf``, ``np.True_``).
_NP_CONSTANTS: Final[dict[str, Any]] = {
    "nan": math.nan, "inf": math.inf, "NaN": math.nan, "NAN": math.nan, "Inf": math.inf,
    "infty": math.inf, "Infinity": math.inf, "PINF": math.inf, "NINF": -math.inf,
}
_NP_ARRAY_CALLS: Final = frozenset({"array", "asarray"})


def _numpy_call(node: ast.Call) -> str | None:
    """``array``, ``empty`` or a scalar type (``int64``) when ``node`` calls numpy's, else None.

    ``np.X`` and ``numpy.X``; bare ``array(...)`` (numpy's repr) and the bare dtype names of
    ``_NP_BARE_CALLS`` (``int64(3)``, ``float32(0.5)``).
    """
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
            func.value.id in _NP_MODULE_NAMES:
        name = func.attr
        if name in _NP_ARRAY_CALLS or name == "empty" or name in _NP_SCALAR_CALLS:
            return name
        return None
    if isinstance(func, ast.Name) and (func.id in _NP_ARRAY_CALLS or func.id in _NP_BARE_CALLS):
        return func.id
    return None


# Bare scalar calls as numpy 1 printed them: only names that say numpy (``int64(3)``), not
# ones a program may well define itself (``double``, ``single``, ``half``).
_NP_BARE_CALLS: Final = frozenset({
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
    "float32", "float64", "complex64", "complex128", "bool_", "str_"})


def _reject(message: str) -> NoReturn:
    raise ValueError(f"not a supported literal: {message}")


def _dotted(node: ast.AST) -> str | None:
    """``np.array`` for an attribute of a plain name, else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return f"call of {func.id!r}"
        dotted = _dotted(func)
        return f"call of {dotted!r}" if dotted else "call"
    if isinstance(node, ast.Attribute):
        dotted = _dotted(node)
        return f"attribute {dotted!r}" if dotted else "attribute expression"
    if isinstance(node, ast.Name):
        return f"name {node.id!r}"
    if isinstance(node, ast.BinOp | ast.UnaryOp | ast.BoolOp):
        return f"operator {type(node.op).__name__}"
    return f"{type(node).__name__} expression"


class _LiteralParser:
    __slots__ = ("in_numpy", "max_depth")

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        # Inside a numpy call ``complex(re, im)`` is accepted too: it is how a complex
        # element with a non-finite imaginary part is rendered (``0+infj`` is no literal).
        self.in_numpy = False

    def convert(self, node: ast.expr, depth: int) -> Any:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            if node.id in _SPECIAL_NAMES:
                return _SPECIAL_NAMES[node.id]
            _reject(_describe(node))
        if isinstance(node, ast.Attribute):
            return self._numpy_constant(node)
        if isinstance(node, ast.UnaryOp):
            return self._signed(node, depth)
        if isinstance(node, ast.BinOp):
            return self._complex(node, depth)
        if not isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict | ast.Call):
            _reject(_describe(node))
        if depth >= self.max_depth:
            raise ValueError(f"not a supported literal: nested deeper than {self.max_depth}")
        depth += 1
        if isinstance(node, ast.List):
            return [self.convert(elt, depth) for elt in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.convert(elt, depth) for elt in node.elts)
        if isinstance(node, ast.Set):
            return self._hashables(node.elts, depth, set)
        if isinstance(node, ast.Dict):
            return self._dict(node, depth)
        np_name = _numpy_call(node)
        if np_name is not None:
            return self._numpy(node, np_name, depth)
        return self._call(node, depth)

    @staticmethod
    def _numpy_constant(node: ast.Attribute) -> Any:
        if isinstance(node.value, ast.Name) and node.value.id in _NP_MODULE_NAMES:
            if node.attr in _NP_CONSTANTS:
                return _NP_CONSTANTS[node.attr]
            if node.attr in ("True_", "False_"):
                return NumpyScalar("bool", node.attr == "True_")
        _reject(_describe(node))

    @staticmethod
    def _dtype_arg(node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and type(node.value) is str:
            text = node.value
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id in _NP_MODULE_NAMES:
            text = node.attr
        else:
            _reject(f"dtype {_describe(node)}")
        try:
            return _np_dtype_name(text)
        except ValueError as exc:
            _reject(str(exc))

    def _numpy(self, node: ast.Call, name: str, depth: int) -> Any:
        dtype: str | None = None
        for keyword in node.keywords:
            if keyword.arg != "dtype" or name not in (*_NP_ARRAY_CALLS, "empty"):
                _reject(f"keyword arguments other than dtype= in {_describe(node)}")
            dtype = self._dtype_arg(keyword.value)
        if len(node.args) != 1:
            _reject(f"{_describe(node)} takes one positional argument")
        outer, self.in_numpy = self.in_numpy, True
        try:
            arg = self.convert(node.args[0], depth)  # Starred is rejected here
        finally:
            self.in_numpy = outer
        try:
            if name in _NP_ARRAY_CALLS:
                return NumpyArray.from_data(arg, dtype)
            if name == "empty":
                shape = (arg,) if type(arg) is int else arg
                if type(shape) is not tuple or any(type(n) is not int or n < 0 for n in shape) \
                        or 0 not in shape:
                    _reject("np.empty() is read for empty arrays only: a shape with a 0")
                return NumpyArray(dtype or "float64", shape, _np_empty(shape))
            scalar_dtype = _NP_SCALAR_CALLS[name]
            if type(arg) is NumpyScalar:
                arg = arg.value
            if type(arg) is str and _NP_FAMILY[scalar_dtype] in ("float", "complex"):
                arg = complex(arg) if scalar_dtype in _NP_COMPLEX else float(arg)
            return NumpyScalar(scalar_dtype, _np_cast(arg, scalar_dtype))
        except (ValueError, OverflowError) as exc:
            if str(exc).startswith("not a supported literal"):
                raise
            _reject(f"{_describe(node)}: {exc}")

    @staticmethod
    def _constant(node: ast.Constant) -> Any:
        value = node.value
        if type(value) not in _CONSTANT_TYPES:
            _reject(f"constant {value!r}")
        if type(value) is int and not -_INT_LIMIT < value < _INT_LIMIT:
            _reject(f"int literal with more than {_MAX_INT_DIGITS} digits")
        return value

    def _number(self, node: ast.expr, depth: int, allowed: tuple[type, ...]) -> Any:
        # A number written without operators: a constant, inf/nan, float('...'), np.inf.
        if not isinstance(node, ast.Constant | ast.Name | ast.Call | ast.Attribute):
            _reject(f"{_describe(node)} inside a number")
        value = self.convert(node, depth)
        # -np.int64(3) stays a numpy scalar, as in numpy.
        if type(value) is NumpyScalar and type(value.value) in allowed and value.dtype != "bool":
            return value
        if type(value) not in allowed:
            _reject(f"{type(value).__name__} where a number was expected")
        return value

    def _signed(self, node: ast.UnaryOp, depth: int) -> Any:
        if not isinstance(node.op, ast.USub | ast.UAdd):
            _reject(_describe(node))
        value = self._number(node.operand, depth, (int, float, complex))
        if type(value) is NumpyScalar:
            negated = -value.value if isinstance(node.op, ast.USub) else +value.value
            try:
                return NumpyScalar(value.dtype, _np_cast(negated, value.dtype))
            except ValueError as exc:
                _reject(str(exc))
        return -value if isinstance(node.op, ast.USub) else +value

    def _complex(self, node: ast.BinOp, depth: int) -> complex:
        # Only the complex-number form: <real> + <imaginary literal> or <real> - <imag>.
        right = node.right
        if (
            not isinstance(node.op, ast.Add | ast.Sub)
            or not isinstance(right, ast.Constant)
            or type(right.value) is not complex
            or right.value.real != 0
        ):
            _reject(_describe(node))
        left = node.left
        if isinstance(left, ast.UnaryOp):
            real = self._signed(left, depth)
        else:
            real = self._number(left, depth, (int, float))
        if type(real) not in (int, float):
            _reject("complex real part must be a real number")
        try:
            real_part = float(real)
        except OverflowError:
            _reject("complex real part out of range")
        imag = right.value.imag
        return complex(real_part, imag if isinstance(node.op, ast.Add) else -imag)

    def _hashables(
        self, elts: list[ast.expr], depth: int, factory: type[set[Any]] | type[frozenset[Any]]
    ) -> set[Any] | frozenset[Any]:
        values = [self.convert(elt, depth) for elt in elts]
        try:
            return factory(values)
        except TypeError:
            _reject("unhashable set element")

    def _dict(self, node: ast.Dict, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:
                _reject("** unpacking in a dict")
            key = self.convert(key_node, depth)
            value = self.convert(value_node, depth)
            try:
                out[key] = value
            except TypeError:
                _reject(f"unhashable dict key of type {type(key).__name__}")
        return out

    def _complex_call(self, node: ast.Call, depth: int) -> complex:
        if node.keywords or not 1 <= len(node.args) <= 2:
            _reject("complex() takes one or two real numbers here")
        parts = [self._number(arg, depth, (int, float)) if not isinstance(arg, ast.UnaryOp)
                 else self._signed(arg, depth) for arg in node.args]
        if any(type(p) not in (int, float) for p in parts):
            _reject("complex() takes one or two real numbers here")
        try:
            return complex(*(float(p) for p in parts))
        except OverflowError:
            _reject("complex() part out of range")

    def _call(self, node: ast.Call, depth: int) -> Any:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "complex" and self.in_numpy:
            return self._complex_call(node, depth)
        if not isinstance(func, ast.Name) or func.id not in ("set", "frozenset", "range", "float"):
            _reject(_describe(node))
        if node.keywords:
            _reject(f"keyword arguments in {_describe(node)}")
        args = [self.convert(arg, depth) for arg in node.args]  # Starred is rejected here
        name = func.id
        if name in ("set", "frozenset"):
            factory = set if name == "set" else frozenset
            if not args:
                return factory()
            if len(args) != 1 or type(args[0]) not in _ITERABLE_ARG_TYPES:
                _reject(f"{name}() takes one list, tuple, set or frozenset")
            try:
                return factory(args[0])
            except TypeError:
                _reject(f"unhashable {name} element")
        if name == "range":
            if not 1 <= len(args) <= 3 or any(type(arg) is not int for arg in args):
                _reject("range() takes one to three ints")
            if len(args) == 3 and args[2] == 0:
                _reject("range() step must not be zero")
            return range(*args)
        # float(...)
        if len(args) != 1 or type(args[0]) not in (str, int, float):
            _reject("float() takes one string or number")
        try:
            return float(args[0])
        except (ValueError, OverflowError) as exc:
            _reject(f"float({args[0]!r}): {exc}")


def parse_value(text: str, *, max_len: int = 100_000, max_depth: int = 100) -> Any:
    """Parse a Python literal written by a model, without ``eval``.

    Accepts constants (None, bools, ints, floats, complex, strings, bytes), signed numbers,
    ``a+bj``/``a-bj``, lists, tuples, dicts, sets, ``set()``, ``set([...])``,
    ``frozenset()``, ``frozenset([...])``/``frozenset({...})``, ``range(a[, b[, c]])`` with int
    arguments, ``float('inf')``/``float('-inf')``/``float('nan')`` (any string ``float``
    accepts), the bare names ``inf`` and ``nan``, and numpy values: ``np.array(DATA)``,
    ``numpy.array``, ``np.asarray`` or numpy's repr ``array(...)`` with an optional
    ``dtype=``, ``np.empty(SHAPE)`` of a shape with a 0, scalars ``np.int64(3)`` /
    ``int64(3)`` / ``np.True_``, and ``np.nan`` / ``np.inf`` (see :class:`NumpyArray`; no
    numpy needed).  Everything else (other names, calls,
    attributes, subscripts, operators, comprehensions, lambdas, f-strings, ``...``) raises
    ValueError with a reason, as do inputs longer than ``max_len`` characters, containers
    nested deeper than ``max_depth``, inputs the parser cannot handle, and int literals of
    more than 4300 digits.  Surrounding whitespace is ignored.

    Example:
        >>> parse_value(" {'a': (1, -2.5), 'b': frozenset({1+2j}), 'c': range(0, 3)} ")
        {'a': (1, -2.5), 'b': frozenset({(1+2j)}), 'c': range(0, 3)}
        >>> parse_value("__import__('os')")
        Traceback (most recent call last):
        ...
        ValueError: not a supported literal: call of '__import__'
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_value expects str, got {type(text).__name__}")
    if len(text) > max_len:
        raise ValueError(f"not a supported literal: input longer than {max_len} characters")
    source = text.strip()
    if not source:
        raise ValueError("not a supported literal: empty input")
    try:
        if "\\" in source:
            # Invalid escape sequences warn at parse time. catch_warnings swaps process-wide
            # state, so only take that path when an escape is present, and one at a time.
            with _WARNINGS_LOCK, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source, mode="eval")
        else:
            tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a supported literal: syntax error: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ValueError("not a supported literal: too deeply nested to parse") from None
    except ValueError as exc:  # e.g. null bytes on older Pythons
        raise ValueError(f"not a supported literal: {exc}") from None
    try:
        return _LiteralParser(max_depth).convert(tree.body, 0)
    except RecursionError:
        raise ValueError("not a supported literal: too deeply nested") from None


