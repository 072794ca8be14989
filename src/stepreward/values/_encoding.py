"""The canonical literal: Python values to and from a tagged JSON form, and its text."""

from __future__ import annotations

import enum
import json
import math
import re
import sys
from typing import Any, Final, NoReturn, TypeAlias

from stepreward.values._numpy import (
    _NP_FAMILY,
    NUMPY_DTYPES,
    NumpyArray,
    NumpyScalar,
)
from stepreward.values._typenames import _TYPE_MODULE

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



class _Abort(Exception):
    """Internal: the object being encoded is not a literal."""



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

