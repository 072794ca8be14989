"""Canonical JSON encoding, safe parsing, type naming and comparison of Python literal values."""

# This module is imported inside the sandbox child, which runs with ``python -S``: it must use
# the standard library only, and it must never run user code (no user ``__eq__``, ``__hash__``,
# ``__iter__`` or ``__repr__``) except in :func:`safe_repr`, which exists to do exactly that.

from __future__ import annotations

import ast
import builtins
import enum
import json
import math
import re
import struct
import sys
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeAlias

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

#: A JSON document as returned by :func:`json.loads` (the shape of every canonical literal).
JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None


class NotLiteralType(enum.Enum):
    """The type of :data:`NOT_LITERAL` (a one-member enum, so ``is`` checks narrow for mypy).

    Example:
        >>> NotLiteralType.NOT_LITERAL is NOT_LITERAL
        True
    """

    NOT_LITERAL = "NOT_LITERAL"

    def __repr__(self) -> str:
        return "NOT_LITERAL"

    __str__ = __repr__


#: Returned by :func:`to_literal` for objects that have no canonical literal encoding.  It is a
#: sentinel rather than ``None`` because ``None`` is a literal (it encodes to JSON ``null``).
#: Test for it with ``lit is NOT_LITERAL``; it survives pickling as the same singleton.
NOT_LITERAL: Final = NotLiteralType.NOT_LITERAL

# Ints in [-2**63, 2**63) are plain JSON numbers; others are tagged decimal strings.
_I64_MIN: Final = -(2**63)
_I64_END: Final = 2**63
# Ints with more decimal digits than CPython's default int<->str conversion limit are refused
# everywhere (encoding, decoding and parsing).
_MAX_INT_DIGITS: Final = 4300
_INT_LIMIT: Final = 10**_MAX_INT_DIGITS

_NON_FINITE: Final[dict[str, float]] = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}

_SURROGATE_RE: Final = re.compile(r"[\ud800-\udfff]")
_ESCAPE_RE: Final = re.compile(r"[\\\ud800-\udfff]")
_ESCAPED_VALID_RE: Final = re.compile(r"(?:[^\\]|\\\\|\\u[0-9a-f]{4})*", re.DOTALL)
_UNESCAPE_RE: Final = re.compile(r"\\(\\|u[0-9a-f]{4})")
_INT_TEXT_RE: Final = re.compile(rf"-?[0-9]{{1,{_MAX_INT_DIGITS}}}")
_HEX_RE: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")


_WARNINGS_LOCK: Final = threading.Lock()


class _Abort(Exception):
    """Internal: the object being encoded is not a literal."""


# --------------------------------------------------------------------------------------------
# Canonical literal encoding
# --------------------------------------------------------------------------------------------


def _dumps(lit: object) -> str:
    return json.dumps(
        lit, ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True
    )


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return "\\\\" if char == "\\" else f"\\u{ord(char):04x}"


def _encode_int(value: int) -> JSONValue:
    if _I64_MIN <= value < _I64_END:
        return value
    if not -_INT_LIMIT < value < _INT_LIMIT:
        raise _Abort
    try:
        return {"int": str(value)}
    except ValueError:  # the interpreter's int/str conversion limit was lowered
        raise _Abort from None


def _encode_float(value: float) -> JSONValue:
    if math.isnan(value):
        return {"float": "nan"}
    if value == math.inf:
        return {"float": "inf"}
    if value == -math.inf:
        return {"float": "-inf"}
    return value


def _encode_str(value: str) -> JSONValue:
    if value.isascii() or _SURROGATE_RE.search(value) is None:
        return value
    return {"str_esc": _ESCAPE_RE.sub(_escape_char, value)}


class _Encoder:
    __slots__ = ("active", "items", "max_depth", "max_items")

    def __init__(self, max_items: int, max_depth: int) -> None:
        self.max_items = max_items
        self.max_depth = max_depth
        self.items = 0
        self.active: set[int] = set()

    def encode(self, obj: object, depth: int) -> JSONValue:
        # Dispatch on the exact type only: subclasses may override anything.
        cls = type(obj)
        if obj is None:
            return None
        if type(obj) is bool:
            return obj
        if type(obj) is int:
            return _encode_int(obj)
        if type(obj) is float:
            return _encode_float(obj)
        if type(obj) is str:
            return _encode_str(obj)
        if type(obj) is complex:
            return {"complex": [_encode_float(obj.real), _encode_float(obj.imag)]}
        if type(obj) is bytes:
            return {"bytes": obj.hex()}
        if type(obj) is range:
            parts = (obj.start, obj.stop, obj.step)
            return {"range": [_encode_int(part) for part in parts]}
        if cls not in _ENCODABLE_CONTAINERS:
            return _numpy_literal(obj, cls, self, depth)
        if depth >= self.max_depth:
            raise _Abort
        key = id(obj)
        if key in self.active:  # reference cycle
            raise _Abort
        self.active.add(key)
        try:
            return self._encode_container(obj, depth + 1)
        finally:
            self.active.discard(key)

    def _encode_container(self, obj: object, depth: int) -> JSONValue:
        if type(obj) is dict:
            self._count(len(obj))
            return {
                "dict": [[self.encode(k, depth), self.encode(v, depth)] for k, v in obj.items()]
            }
        if type(obj) is list:
            self._count(len(obj))
            return [self.encode(item, depth) for item in obj]
        if type(obj) is tuple:
            self._count(len(obj))
            return {"tuple": [self.encode(item, depth) for item in obj]}
        if type(obj) is set or type(obj) is frozenset:
            self._count(len(obj))
            encoded = [self.encode(item, depth) for item in obj]
            encoded.sort(key=_dumps)
            return {"set" if type(obj) is set else "frozenset": encoded}
        raise _Abort  # pragma: no cover - guarded by the caller

    def _count(self, n: int) -> None:
        self.items += n
        if self.items > self.max_items:
            raise _Abort


_ENCODABLE_CONTAINERS: Final = frozenset({list, tuple, dict, set, frozenset})


def to_literal(
    obj: object, *, max_items: int = 10_000, max_depth: int = 100
) -> JSONValue | NotLiteralType:
    """Return the canonical JSON-serialisable encoding of ``obj``, or :data:`NOT_LITERAL`.

    ``obj`` is a literal when it is built only from objects whose exact type (subclasses do
    not count) is one of None, bool, int, float, complex, str, bytes, list, tuple, dict, set,
    frozenset and range.  No method of the object is ever called, so this is safe on
    arbitrary user objects.  :data:`NOT_LITERAL` is returned for any other type anywhere
    inside, for reference cycles (shared, acyclic references are fine and are expanded), for
    more than ``max_items`` elements in total (items of lists, tuples, sets and frozensets and
    entries of dicts, summed over all containers), for containers nested more than
    ``max_depth`` deep (``[]`` has depth 1; also when the nesting exceeds the interpreter's
    recursion limit), and for ints of more than 4300 decimal digits.

    The encoding is JSON in which every object is a one-key tag:

    * None, bool: ``null``, ``true``/``false``.
    * int: a JSON int if ``-2**63 <= x < 2**63``, else ``{"int": "<decimal digits>"}``.
    * float: a JSON number if finite (``json`` writes it with a ``.`` or an exponent, so it
      reads back as a float, and ``-0.0`` keeps its sign), else
      ``{"float": "inf" | "-inf" | "nan"}``.
    * complex: ``{"complex": [re, im]}``, each part encoded as a float.
    * str: a JSON string, unless it contains a lone surrogate (U+D800..U+DFFF, which cannot
      be written as UTF-8): then ``{"str_esc": e}`` where ``e`` is the string with each
      backslash doubled and each surrogate written as ``\\uXXXX`` (4 lowercase hex digits).
    * bytes: ``{"bytes": "<lowercase hex>"}``.
    * list: a JSON array of the encoded items; tuple: ``{"tuple": [...]}``.
    * dict: ``{"dict": [[key, value], ...]}`` in insertion order (keys are encoded too).
    * set, frozenset: ``{"set": [...]}``, ``{"frozenset": [...]}`` with the encoded elements
      sorted by their :func:`dumps_literal` text, so the result is independent of
      ``PYTHONHASHSEED``.
    * range: ``{"range": [start, stop, step]}``.
    * numpy (only where the program imported it; numpy's own exact types, see
      docs/traces.md): an array ``{"ndarray": [dtype, shape, data]}`` with ``data`` as
      ``tolist()`` gives it, elements encoded as above (its elements count against
      ``max_items``); a scalar ``{"np_scalar": [dtype, value]}``. They decode to
      :class:`NumpyArray` and :class:`NumpyScalar`, which need no numpy.

    Example:
        >>> to_literal({"a": (1, 2.0), "b": {3}})
        {'dict': [['a', {'tuple': [1, 2.0]}], ['b', {'set': [3]}]]}
        >>> to_literal([float("nan"), 2**64])
        [{'float': 'nan'}, {'int': '18446744073709551616'}]
        >>> to_literal(object())
        NOT_LITERAL
    """
    encoder = _Encoder(max_items, max_depth)
    try:
        return encoder.encode(obj, 0)
    except (_Abort, RecursionError):
        return NOT_LITERAL


def _fail(message: str) -> NoReturn:
    raise ValueError(f"malformed literal: {message}")


def _decode_list(payload: object, tag: str) -> list[Any]:
    if type(payload) is not list:
        _fail(f"{tag!r} expects a JSON array, got {type(payload).__name__}")
    return [_decode(item) for item in payload]


def _decode_hashables(payload: object, tag: str) -> list[Any]:
    items = _decode_list(payload, tag)
    for item in items:
        try:
            hash(item)  # decoded values are literals: no user code can run here
        except TypeError:
            _fail(f"unhashable {type(item).__name__} element in {tag!r}")
    return items


def _decode_tagged(tag: str, payload: object) -> Any:
    if tag == "tuple":
        return tuple(_decode_list(payload, tag))
    if tag == "dict":
        if type(payload) is not list:
            _fail("'dict' expects a JSON array of [key, value] pairs")
        out: dict[Any, Any] = {}
        for pair in payload:
            if type(pair) is not list or len(pair) != 2:
                _fail("'dict' entries must be [key, value] arrays")
            key = _decode(pair[0])
            try:
                out[key] = _decode(pair[1])
            except TypeError:
                _fail(f"unhashable dict key of type {type(key).__name__}")
        return out
    if tag == "set":
        return set(_decode_hashables(payload, tag))
    if tag == "frozenset":
        return frozenset(_decode_hashables(payload, tag))
    if tag == "int":
        if type(payload) is not str or _INT_TEXT_RE.fullmatch(payload) is None:
            _fail(f"'int' expects a string of at most {_MAX_INT_DIGITS} decimal digits")
        return int(payload)
    if tag == "float":
        if type(payload) is not str or payload not in _NON_FINITE:
            _fail("'float' expects one of 'inf', '-inf', 'nan'")
        return _NON_FINITE[payload]
    if tag == "complex":
        parts = _decode_list(payload, tag)
        if len(parts) != 2 or any(type(p) not in (int, float) for p in parts):
            _fail("'complex' expects [real, imag] numbers")
        return complex(parts[0], parts[1])
    if tag == "str_esc":
        if type(payload) is not str or _ESCAPED_VALID_RE.fullmatch(payload) is None:
            _fail("'str_esc' expects a string with only \\\\ and \\uXXXX escapes")
        return _UNESCAPE_RE.sub(
            lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), payload
        )
    if tag == "bytes":
        if type(payload) is not str or _HEX_RE.fullmatch(payload) is None:
            _fail("'bytes' expects a string of hex digit pairs")
        return bytes.fromhex(payload)
    if tag in {"np_scalar", "ndarray"}:
        return _decode_numpy(tag, payload)
    if tag == "range":
        parts = _decode_list(payload, tag)
        if len(parts) != 3 or any(type(p) is not int for p in parts):
            _fail("'range' expects [start, stop, step] ints")
        if parts[2] == 0:
            _fail("'range' step must not be zero")
        return range(parts[0], parts[1], parts[2])
    _fail(f"unknown tag {tag!r}")


def _decode_numpy(tag: str, payload: object) -> Any:
    arity = 2 if tag == "np_scalar" else 3
    if type(payload) is not list or len(payload) != arity or type(payload[0]) is not str:
        _fail(f"{tag!r} expects [dtype, {'value' if arity == 2 else 'shape, data'}]")
    try:
        if tag == "np_scalar":
            return NumpyScalar(payload[0], _decode(payload[1]))
        shape = payload[1]
        if type(shape) is not list:
            _fail("'ndarray' shape must be a JSON array of ints")
        return NumpyArray(payload[0], shape, _decode(payload[2]))
    except ValueError as exc:
        if str(exc).startswith("malformed literal"):
            raise
        _fail(f"{tag!r}: {exc}")


def _decode(lit: object) -> Any:
    if lit is None or type(lit) in (bool, int, float, str):
        return lit
    if type(lit) is list:
        return [_decode(item) for item in lit]
    if type(lit) is not dict:
        _fail(f"unexpected {type(lit).__name__}")
    if len(lit) != 1:
        _fail(f"tag objects must have exactly one key, got {len(lit)}")
    ((tag, payload),) = lit.items()
    if type(tag) is not str:
        _fail("tag must be a string")
    return _decode_tagged(tag, payload)


def from_literal(lit: object) -> Any:
    """Decode a canonical literal (see :func:`to_literal`) back to the Python object.

    The result equals the original object and has the same types throughout (lists stay
    lists, tuples tuples, sets and frozensets are rebuilt, dict key order is preserved).
    Raises ValueError on malformed input: an unknown tag, a tag object with other than one
    key, wrong payload shape or arity, an unhashable set element or dict key, a bad number.

    Example:
        >>> from_literal({"tuple": [1, {"float": "inf"}, {"set": ["a"]}]})
        (1, inf, {'a'})
        >>> from_literal({"list": []})
        Traceback (most recent call last):
        ...
        ValueError: malformed literal: unknown tag 'list'
    """
    try:
        return _decode(lit)
    except RecursionError as exc:
        raise ValueError("malformed literal: nested too deeply") from exc


def dumps_literal(lit: JSONValue) -> str:
    """Serialise a literal to compact, deterministic JSON text (UTF-8 safe, no NaN tokens).

    Equal literals give byte-identical text.  Raises ValueError if ``lit`` holds a
    non-finite float (canonical literals never do: those are tagged).

    Example:
        >>> dumps_literal(to_literal({1: (2.0, None)}))
        '{"dict":[[1,{"tuple":[2.0,null]}]]}'
    """
    return _dumps(lit)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"malformed literal: JSON constant {name} is not allowed")


def loads_literal(text: str | bytes) -> JSONValue:
    """Parse JSON text written by :func:`dumps_literal` (not decoded: see :func:`from_literal`).

    Rejects the non-standard ``NaN``/``Infinity`` tokens; raises ValueError on bad JSON.

    Example:
        >>> from_literal(loads_literal('{"tuple":[1,-0.0]}'))
        (1, -0.0)
    """
    try:
        value: JSONValue = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("malformed literal: JSON nested too deeply") from exc
    return value


# --------------------------------------------------------------------------------------------
# Type names
# --------------------------------------------------------------------------------------------

_TYPE_NAME = type.__dict__["__name__"]
_TYPE_MODULE = type.__dict__["__module__"]
_TYPE_QUALNAME = type.__dict__["__qualname__"]


def type_name(obj: object) -> str:
    """Name of the type of ``obj``: ``__name__`` for builtins, else ``module.qualname``.

    Reads the names through ``type``'s own descriptors, so metaclass tricks cannot run code.

    Example:
        >>> import collections
        >>> type_name(None), type_name(1.5), type_name(collections.Counter())
        ('NoneType', 'float', 'collections.Counter')
    """
    cls = type(obj)
    try:
        module = _TYPE_MODULE.__get__(cls, type)
        qualname = _TYPE_QUALNAME.__get__(cls, type)
        name = _TYPE_NAME.__get__(cls, type)
    except Exception:
        return "<unknown type>"
    if type(module) is not str:
        module = "?"
    if module == "builtins" and type(name) is str:
        return str(name)
    if type(qualname) is not str:
        qualname = name if type(name) is str else "?"
    return f"{module}.{qualname}"


def _builtin_type_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for namespace in (vars(builtins), vars(types)):
        for value in namespace.values():
            if isinstance(value, type) and value.__module__ == "builtins":
                names.setdefault(value.__name__.lower(), value.__name__)
    return names


_BUILTIN_TYPE_NAMES: Final = _builtin_type_names()
_TYPE_ALIASES: Final = {
    "none": "NoneType",
    "nonetype": "NoneType",
    "null": "NoneType",
    "type(none)": "NoneType",
    "string": "str",
    "integer": "int",
    "boolean": "bool",
    "dictionary": "dict",
}


def _class_repr_name(text: str) -> str | None:
    """The name inside ``<class 'NAME'>`` (or ``<type NAME>``), else None.

    Plain string operations, linear in the text (a regular expression for this shape
    backtracked cubically on a long run of spaces).
    """
    if not (text.startswith("<") and text.endswith(">")):
        return None
    inner = text[1:-1].lstrip()
    for word in ("class", "type"):
        if inner.startswith(word) and inner[len(word):len(word) + 1].isspace():
            rest = inner[len(word):].strip()
            if rest[:1] in ("'", '"'):
                rest = rest[1:]
            if rest[-1:] in ("'", '"'):
                rest = rest[:-1]
            if any(c in rest for c in "'\"<>"):
                return None
            return rest.strip()
    return None


def normalize_type_name(text: str) -> str:
    """Canonicalise a type name written by a model, e.g. ``"<class 'int'>"`` -> ``"int"``.

    Strips whitespace, backticks and quotes; unwraps ``<class '...'>``; drops a
    ``builtins.`` prefix; maps aliases (``None``/``none``/``null`` -> ``NoneType``,
    ``string`` -> ``str``, ``integer`` -> ``int``, ``boolean`` -> ``bool``, ``dictionary`` ->
    ``dict``) and builtin type names case-insensitively.  Other names come back stripped.

    Example:
        >>> [normalize_type_name(t) for t in ["`Integer`", "<class 'str'>", "builtins.Dict"]]
        ['int', 'str', 'dict']
        >>> normalize_type_name(" collections.Counter ")
        'collections.Counter'
    """
    name = text.strip().strip("`'\"").strip()
    inner = _class_repr_name(name)
    if inner is not None:
        name = inner
    if name.lower().startswith("builtins."):
        name = name[len("builtins.") :]
    key = name.lower()
    if key in _TYPE_ALIASES:
        return _TYPE_ALIASES[key]
    numpy_name = _numpy_type_name(key)
    if numpy_name is not None:
        return numpy_name
    return _BUILTIN_TYPE_NAMES.get(key, name)


# numpy's type names, lower case, without the module: ``numpy.<name>`` is canonical.
_NP_TYPE_NAMES: Final = frozenset({
    "ndarray", "bool_", "str_", "bytes_", "generic", "matrix", "longlong", "ulonglong", "intc",
    "uintc", "longdouble", "clongdouble", "datetime64", "timedelta64", "object_", "void",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
    "float32", "float64", "complex64", "complex128",
})


def _numpy_type_name(key: str) -> str | None:
    """``numpy.<name>`` for ``np.X``, ``numpy.X`` and numpy's bare type names (lower case)."""
    for prefix in ("np.", "numpy."):
        if key.startswith(prefix):
            rest = key[len(prefix):]
            return "numpy.bool_" if rest in ("bool", "bool_") else f"numpy.{rest}"
    if key in _NP_TYPE_NAMES:
        return f"numpy.{key}"
    return None


# --------------------------------------------------------------------------------------------
# Safe parsing of model-written values
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# numpy values
# --------------------------------------------------------------------------------------------

# numpy is never imported here: in the sandbox child a numpy value can only exist when the
# program imported numpy (so it is in sys.modules), and the trainer decodes numpy literals into
# the two stand-in classes below, which need no numpy at all.

#: Element dtypes of numpy arrays and scalars that have a literal form, by kind.
_NP_INT_RANGES: Final[dict[str, tuple[int, int]]] = {
    **{f"int{b}": (-(2 ** (b - 1)), 2 ** (b - 1)) for b in (8, 16, 32, 64)},
    **{f"uint{b}": (0, 2**b) for b in (8, 16, 32, 64)},
}
_NP_FLOATS: Final = frozenset({"float16", "float32", "float64"})
_NP_COMPLEX: Final = frozenset({"complex64", "complex128"})
NUMPY_DTYPES: Final = frozenset({"bool", "str", *_NP_INT_RANGES, *_NP_FLOATS, *_NP_COMPLEX})
# Kinds that compare equal to each other (signed and unsigned ints are one family).
_NP_FAMILY: Final[dict[str, str]] = {
    "bool": "bool", "str": "str", **dict.fromkeys(_NP_INT_RANGES, "int"),
    **dict.fromkeys(_NP_FLOATS, "float"), **dict.fromkeys(_NP_COMPLEX, "complex"),
}
# What a model may write for a dtype: numpy's names, the Python types numpy maps, the short
# codes numpy prints in reprs (``dtype='<U2'``) and accepts (``'f4'``).
_NP_DTYPE_ALIASES: Final[dict[str, str]] = {
    **{name: name for name in NUMPY_DTYPES},
    "bool_": "bool", "bool8": "bool", "?": "bool", "b1": "bool", "|b1": "bool",
    "int": "int64", "float": "float64", "complex": "complex128", "str_": "str",
    "double": "float64", "single": "float32", "half": "float16", "longlong": "int64",
    "intp": "int64", "uintp": "uint64", "ulonglong": "uint64", "intc": "int32", "uintc": "uint32",
    "short": "int16", "ushort": "uint16", "byte": "int8", "ubyte": "uint8",
    "cdouble": "complex128", "csingle": "complex64", "float_": "float64",
    "complex_": "complex128", "unicode": "str",
    **{f"{p}{c}{n}": name for name, c, n in (
        ("int8", "i", 1), ("int16", "i", 2), ("int32", "i", 4), ("int64", "i", 8),
        ("uint8", "u", 1), ("uint16", "u", 2), ("uint32", "u", 4), ("uint64", "u", 8),
        ("float16", "f", 2), ("float32", "f", 4), ("float64", "f", 8),
        ("complex64", "c", 8), ("complex128", "c", 16)) for p in ("", "<", "=", "|")},
}
_NP_STR_CODE_RE: Final = re.compile(r"[<>=|]?U[0-9]{0,9}")
_NP_MODULE_NAMES: Final = frozenset({"np", "numpy"})
_NP_SCALAR_CALLS: Final[dict[str, str]] = {
    **{name: name for name in NUMPY_DTYPES if name not in ("bool", "str")},
    "bool_": "bool", "str_": "str", "float_": "float64", "double": "float64",
    "single": "float32", "half": "float16", "longlong": "int64", "intc": "int32",
    "cdouble": "complex128", "csingle": "complex64",
}
# Defaults numpy infers for data written without a dtype.
_NP_INFERRED: Final[dict[type, str]] = {bool: "bool", int: "int64", float: "float64",
                                        complex: "complex128", str: "str"}


def _np_dtype_name(text: str) -> str:
    name = _NP_DTYPE_ALIASES.get(text.strip())
    if name is None and _NP_STR_CODE_RE.fullmatch(text.strip()):
        name = "str"
    if name is None:
        raise ValueError(f"unsupported numpy dtype {text!r}")
    return name


def _round_float(value: float, dtype: str) -> float:
    """``value`` as the nearest float of ``dtype`` (what numpy stores), as a Python float."""
    if dtype == "float64" or math.isnan(value) or math.isinf(value):
        return value
    fmt = "<f" if dtype == "float32" else "<e"
    try:
        return float(struct.unpack(fmt, struct.pack(fmt, value))[0])
    except OverflowError:  # numpy overflows to infinity
        return math.copysign(math.inf, value)


def _short_float(value: float, dtype: str) -> str:
    """The shortest text that reads back as the same ``dtype`` float (numpy's repr digits)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if dtype == "float64":
        return repr(value)
    for digits in range(1, 18):
        text = f"{value:.{digits}g}"
        if _round_float(float(text), dtype) == value:
            break
    if not any(c in text for c in ".en"):
        text += ".0"
    return text


def _np_cast(value: Any, dtype: str) -> Any:
    """A Python scalar converted as numpy converts it on ``np.<dtype>(value)``; ValueError if
    numpy would refuse or the value would wrap around."""
    family = _NP_FAMILY[dtype]
    t = type(value)
    if family == "str":
        if t is not str:
            raise ValueError(f"a {dtype} element must be a string, got {t.__name__}")
        return value
    if t is str or t not in _NUMBER_TYPES:
        raise ValueError(f"a {dtype} element must be a number, got {t.__name__}")
    if family == "bool":
        return bool(value)
    if family == "int":
        if t is complex:
            raise ValueError(f"cannot convert a complex number to {dtype}")
        if t is float and not math.isfinite(value):
            raise ValueError(f"cannot convert {value!r} to {dtype}")
        number = int(value)
        low, high = _NP_INT_RANGES[dtype]
        if not low <= number < high:
            raise ValueError(f"{number} is out of range for {dtype}")
        return number
    if family == "float":
        if t is complex:
            raise ValueError(f"cannot convert a complex number to {dtype}")
        try:
            return _round_float(float(value), dtype)
        except OverflowError:
            raise ValueError(f"{value} is out of range for {dtype}") from None
    part = "float32" if dtype == "complex64" else "float64"
    try:
        cnumber = complex(value)
    except OverflowError:
        raise ValueError(f"{value} is out of range for {dtype}") from None
    return complex(_round_float(cnumber.real, part), _round_float(cnumber.imag, part))


def _np_check_element(value: Any, dtype: str) -> None:
    """Raise ValueError unless ``value`` is exactly what ``tolist()`` gives for ``dtype``."""
    family = _NP_FAMILY[dtype]
    expected: type = {"bool": bool, "int": int, "float": float, "complex": complex,
                      "str": str}[family]
    if type(value) is not expected:
        raise ValueError(f"a {dtype} element must be a {expected.__name__}, "
                         f"got {type(value).__name__}")
    if family == "int":
        low, high = _NP_INT_RANGES[dtype]
        number: Any = value  # an exact int (checked above); mypy narrowed value to object
        if not low <= number < high:
            raise ValueError(f"{value} is out of range for {dtype}")


class NumpyScalar:
    """A numpy scalar (``np.int64(3)``, ``np.float32(0.5)``, ``np.True_``), decoded without numpy.

    ``dtype`` is numpy's dtype name (``"int64"``, ``"float32"``, ``"bool"``, ``"str"``...) and
    ``value`` the Python scalar ``.item()`` gives. It compares (``==``, :func:`values_equal`)
    like that Python value, as numpy scalars do, and hashes like it; :meth:`to_numpy` builds the
    real scalar where numpy is installed.

    Example:
        >>> s = NumpyScalar("int64", 3)
        >>> s == 3, s, s.to_python()
        (True, np.int64(3), 3)
    """

    __slots__ = ("dtype", "value")
    dtype: str
    value: Any

    def __init__(self, dtype: str, value: Any) -> None:
        if dtype not in NUMPY_DTYPES:
            raise ValueError(f"unsupported numpy dtype {dtype!r}")
        _np_check_element(value, dtype)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("NumpyScalar is immutable")

    def __eq__(self, other: object) -> bool:
        value = other.value if type(other) is NumpyScalar else other
        if type(value) not in _COMPARABLE_TYPES or type(value) is NumpyArray:
            return NotImplemented
        return bool(self.value == value)

    def __hash__(self) -> int:
        return hash(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        return _render(self, 0)

    def __reduce__(self) -> tuple[Any, ...]:
        return (NumpyScalar, (self.dtype, self.value))

    def to_python(self) -> Any:
        """The plain Python value (``int``, ``float``, ``bool``, ``complex`` or ``str``)."""
        return self.value

    def to_numpy(self) -> Any:
        """The real numpy scalar (imports numpy; ImportError where it is not installed)."""
        import numpy

        return numpy.dtype(self.dtype).type(self.value)


class NumpyArray:
    """A numpy array decoded without numpy: ``dtype``, ``shape`` and ``data``.

    ``data`` is what ``ndarray.tolist()`` gives (nested lists of Python scalars; the scalar
    itself for a 0-d array), ``shape`` a tuple of ints, ``dtype`` numpy's dtype name (all
    string dtypes are ``"str"``). ``==`` is :func:`values_equal` (one bool, unlike numpy's
    elementwise ``==``): same shape, same dtype family (bool, int, float, complex, str; the
    width does not matter), elements equal. Build one from nested data as numpy's
    ``np.array`` would with :meth:`from_data`; :meth:`to_numpy` gives the real array.

    Example:
        >>> a = NumpyArray.from_data([[1, 2], [3, 4]])
        >>> a.dtype, a.shape, a
        ('int64', (2, 2), np.array([[1, 2], [3, 4]]))
        >>> a == NumpyArray.from_data([[1, 2], [3, 4]], "int32"), a == [[1, 2], [3, 4]]
        (True, False)
    """

    __slots__ = ("data", "dtype", "shape")
    __hash__ = None  # type: ignore[assignment]  # mutable in numpy, unhashable there too
    dtype: str
    shape: tuple[int, ...]
    data: Any

    def __init__(self, dtype: str, shape: tuple[int, ...] | list[int], data: Any) -> None:
        if dtype not in NUMPY_DTYPES:
            raise ValueError(f"unsupported numpy dtype {dtype!r}")
        dims = tuple(shape)
        if any(type(n) is not int or n < 0 for n in dims) or len(dims) > 64:
            raise ValueError(f"bad numpy shape {shape!r}")
        _np_check_data(data, dims, dtype)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "shape", dims)
        object.__setattr__(self, "data", data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("NumpyArray is immutable")

    @classmethod
    def from_data(cls, data: Any, dtype: str | None = None) -> NumpyArray:
        """The array ``np.array(data, dtype=dtype)`` makes, from nested lists or tuples of
        Python scalars (ValueError for ragged data or values numpy would refuse or wrap).

        Example:
            >>> NumpyArray.from_data([1, 2.5]).dtype, NumpyArray.from_data([1, 2], "float32").data
            ('float64', [1.0, 2.0])
        """
        shape = _np_shape(data, 0)
        leaves = _np_leaves(data)
        dtype = _np_infer(leaves) if dtype is None else _np_dtype_name(dtype)
        return cls(dtype, shape, _np_convert(data, dtype))

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return len(self.shape)

    def __eq__(self, other: object) -> bool:
        if type(other) is not NumpyArray:
            return False
        return _Comparer(0.0).eq(self, other)

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError("the truth value of an array with more than one element is "
                             "ambiguous")
        return bool(_np_leaves(self.data)[0])

    def __repr__(self) -> str:
        return _render(self, 0)

    def __reduce__(self) -> tuple[Any, ...]:
        return (NumpyArray, (self.dtype, self.shape, self.data))

    def flat(self) -> list[Any]:
        """The elements in C order, as a flat list of Python scalars."""
        return _np_leaves(self.data)

    def tolist(self) -> Any:
        """The data as nested lists (a fresh copy), as ``ndarray.tolist()``."""
        return _np_copy(self.data)

    def to_numpy(self) -> Any:
        """The real numpy array (imports numpy; ImportError where it is not installed)."""
        import numpy

        return numpy.array(self.data, dtype=self.dtype).reshape(self.shape)


def _np_copy(data: Any) -> Any:
    return [_np_copy(x) for x in data] if type(data) is list else data


def _np_shape(data: Any, depth: int) -> tuple[int, ...]:
    if depth > 64:
        raise ValueError("numpy arrays have at most 64 dimensions")
    if type(data) is NumpyArray:
        return data.shape
    if type(data) not in (list, tuple):
        return ()
    if not data:
        return (0,)
    shapes = {_np_shape(item, depth + 1) for item in data}
    if len(shapes) != 1:
        raise ValueError("ragged nested sequence: numpy cannot make an array of it")
    return (len(data), *shapes.pop())


def _np_leaves(data: Any) -> list[Any]:
    if type(data) is NumpyArray:
        return _np_leaves(data.data)
    if type(data) not in (list, tuple):
        return [data.value if type(data) is NumpyScalar else data]
    out: list[Any] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if type(item) in (list, tuple):
            stack.extend(reversed(item))
        elif type(item) is NumpyArray:
            stack.append(item.data)
        else:
            out.append(item.value if type(item) is NumpyScalar else item)
    return out


def _np_infer(leaves: list[Any]) -> str:
    kinds = {type(x) for x in leaves}
    if not kinds:
        return "float64"  # np.array([]) is a float array
    if str in kinds:
        if kinds != {str}:
            raise ValueError("numpy arrays written here may not mix strings and numbers")
        return "str"
    if not kinds <= _NUMBER_TYPES:
        raise ValueError(f"no numpy dtype for {sorted(k.__name__ for k in kinds)} elements")
    for t in (complex, float, int, bool):
        if t in kinds:
            return _NP_INFERRED[t]
    raise AssertionError("unreachable")  # pragma: no cover


def _np_convert(data: Any, dtype: str) -> Any:
    if type(data) is NumpyArray:
        return _np_convert(data.data, dtype)
    if type(data) in (list, tuple):
        return [_np_convert(item, dtype) for item in data]
    return _np_cast(data.value if type(data) is NumpyScalar else data, dtype)


def _np_check_data(data: Any, shape: tuple[int, ...], dtype: str) -> None:
    if not shape:
        _np_check_element(data, dtype)
        return
    if type(data) is not list or len(data) != shape[0]:
        raise ValueError(f"numpy data does not match the shape {shape}")
    for item in data:
        _np_check_data(item, shape[1:], dtype)


def _np_encode_data(data: Any, dtype: str, ndim: int) -> JSONValue:
    if ndim:
        return [_np_encode_data(item, dtype, ndim - 1) for item in data]
    return _np_encode_element(data, dtype)


def _np_encode_element(value: Any, dtype: str) -> JSONValue:
    family = _NP_FAMILY[dtype]
    if family == "float":
        return _encode_float(value)
    if family == "complex":
        return {"complex": [_encode_float(value.real), _encode_float(value.imag)]}
    if family == "int":
        return _encode_int(value)
    if family == "str":
        return _encode_str(value)
    return bool(value)


def _numpy_literal(obj: object, cls: type, encoder: _Encoder, depth: int) -> JSONValue:
    """The literal of a numpy scalar or array (only numpy's own exact types), else _Abort."""
    if cls is NumpyScalar:
        assert isinstance(obj, NumpyScalar)
        return {"np_scalar": [obj.dtype, _np_encode_element(obj.value, obj.dtype)]}
    if cls is NumpyArray:
        assert isinstance(obj, NumpyArray)
        encoder._count(obj.size)
        if depth + obj.ndim > encoder.max_depth:
            raise _Abort
        return {"ndarray": [obj.dtype, list(obj.shape),
                            _np_encode_data(obj.data, obj.dtype, obj.ndim)]}
    np: Any = sys.modules.get("numpy")
    if np is None:
        raise _Abort
    try:
        module = _TYPE_MODULE.__get__(cls, type)
    except Exception:
        raise _Abort from None
    # The exact-type check first: a str subclass could define __ne__.
    if type(module) is not str or module != "numpy":
        raise _Abort
    scalars = _numpy_scalar_types(np)
    if cls in scalars:
        dtype = scalars[cls]
        return {"np_scalar": [dtype, _np_encode_element(np.generic.item(obj), dtype)]}
    if cls is not np.ndarray:
        raise _Abort
    kind = obj.dtype.kind  # type: ignore[attr-defined]
    name = "str" if kind == "U" else str(obj.dtype.name)  # type: ignore[attr-defined]
    if name not in NUMPY_DTYPES:
        raise _Abort
    shape = tuple(int(n) for n in obj.shape)  # type: ignore[attr-defined]
    encoder._count(math.prod(shape))
    if depth + len(shape) > encoder.max_depth:
        raise _Abort
    data = obj.tolist()  # type: ignore[attr-defined]  # numpy's own method: an exact ndarray
    return {"ndarray": [name, list(shape), _np_encode_data(data, name, len(shape))]}


_np_scalar_cache: dict[int, dict[type, str]] = {}


def _numpy_scalar_types(np: Any) -> dict[type, str]:
    """numpy's own scalar types with a literal form, by the dtype name they encode as."""
    cached = _np_scalar_cache.get(id(np))
    if cached is not None:
        return cached
    out: dict[type, str] = {}
    for attr in ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                 "uint64", "float16", "float32", "float64", "complex64", "complex128",
                 "longlong", "ulonglong", "intc", "uintc", "str_"):
        cls = getattr(np, attr, None)
        if isinstance(cls, type):
            name = "str" if attr == "str_" else str(np.dtype(cls).name)
            if name in NUMPY_DTYPES:
                out.setdefault(cls, name)
    _np_scalar_cache[id(np)] = out
    return out


def contains_numpy(value: Any) -> bool:
    """Whether a decoded value holds a :class:`NumpyArray` or :class:`NumpyScalar` anywhere
    (in lists, tuples, dicts, sets).

    Example:
        >>> contains_numpy([1, {"a": NumpyScalar("int64", 2)}]), contains_numpy([1, 2])
        (True, False)
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        cls = type(item)
        if cls is NumpyArray or cls is NumpyScalar:
            return True
        if depth > 200:
            continue
        if cls in (list, tuple, set, frozenset):
            stack.extend((x, depth + 1) for x in item)
        elif cls is dict:
            stack.extend((x, depth + 1) for pair in item.items() for x in pair)
    return False


def realize_numpy(value: Any) -> Any:
    """Replace :class:`NumpyArray` / :class:`NumpyScalar` stand-ins inside ``value`` (lists,
    tuples, dicts, sets) with real numpy objects; values without any come back unchanged.

    Used in the sandbox, where numpy is pre-loaded (``Sandbox(preload=["numpy"])``), to hand
    tests their numpy arguments. Raises ValueError when a stand-in is found and numpy is not
    imported yet: it is never imported here.

    Example:
        >>> realize_numpy([1, (2, {"a": 3})])
        [1, (2, {'a': 3})]
    """
    return _realize(value, 0)


def _realize(value: Any, depth: int) -> Any:
    cls = type(value)
    if cls is NumpyArray or cls is NumpyScalar:
        if "numpy" not in sys.modules:
            raise ValueError("a numpy value needs numpy loaded (Sandbox(preload=['numpy']))")
        return value.to_numpy()
    if depth > 200:
        return value
    if cls is list:
        items = [_realize(x, depth + 1) for x in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if cls is tuple:
        items = [_realize(x, depth + 1) for x in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else tuple(items)
    if cls is dict:
        pairs = [(_realize(k, depth + 1), _realize(v, depth + 1)) for k, v in value.items()]
        if all(a is k and b is v for (a, b), (k, v) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    if cls is set or cls is frozenset:
        items = [_realize(x, depth + 1) for x in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else cls(items)
    return value


_MAX_EMPTY_PREFIX: Final = 100_000


def _np_empty(shape: tuple[int, ...]) -> Any:
    """The ``tolist()`` data of an array of ``shape`` with a zero-length dimension."""
    prefix = 1
    for n in shape:
        if n == 0:
            break
        prefix *= n
        if prefix > _MAX_EMPTY_PREFIX:
            raise ValueError("empty array shape too large")
    return [] if shape[0] == 0 else [_np_empty(shape[1:]) for _ in range(shape[0])]


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------

_NUMBER_TYPES: Final = frozenset({bool, int, float, complex})
_COMPARABLE_TYPES: Final = frozenset(
    {type(None), bool, int, float, complex, str, bytes, range, list, tuple, dict, set, frozenset,
     NumpyScalar, NumpyArray}
)
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


def _np_unwrap_pair(a: Any, b: Any) -> tuple[Any, Any]:
    da = a.dtype if type(a) is NumpyScalar else None
    db = b.dtype if type(b) is NumpyScalar else None
    a = a.value if da else a
    b = b.value if db else b
    width = _np_narrowest(da, db)
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
    __slots__ = ("exact", "tol")

    def __init__(self, tol: float) -> None:
        self.tol = tol
        self.exact: _Comparer = self if tol == 0.0 else _Comparer(0.0)

    def eq(self, a: Any, b: Any) -> bool:
        # A numpy scalar compares as its Python value (np.int64(3) == 3 == 3.0, as in numpy),
        # at the precision of a narrow float dtype: 0.1 matches np.float32(0.1).
        if type(a) is NumpyScalar or type(b) is NumpyScalar:
            a, b = _np_unwrap_pair(a, b)
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
        narrow = _np_narrowest(a.dtype, b.dtype)
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


def values_equal(a: object, b: object, *, float_tol: float = 0.0) -> bool:
    """Compare two decoded literal values with Python ``==`` semantics, recursively.

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
    """
    if not float_tol >= 0.0:
        raise ValueError(f"float_tol must be >= 0, got {float_tol!r}")
    _check_comparable(a)
    _check_comparable(b)
    try:
        return _Comparer(float(float_tol)).eq(a, b)
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


# --------------------------------------------------------------------------------------------
# repr helper
# --------------------------------------------------------------------------------------------


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
