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
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeAlias

__all__ = [
    "NOT_LITERAL",
    "JSONValue",
    "NotLiteralType",
    "dumps_literal",
    "from_literal",
    "literals_equal",
    "loads_literal",
    "normalize_type_name",
    "parse_value",
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
            raise _Abort
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
    if tag == "range":
        parts = _decode_list(payload, tag)
        if len(parts) != 3 or any(type(p) is not int for p in parts):
            _fail("'range' expects [start, stop, step] ints")
        if parts[2] == 0:
            _fail("'range' step must not be zero")
        return range(parts[0], parts[1], parts[2])
    _fail(f"unknown tag {tag!r}")


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
    return _BUILTIN_TYPE_NAMES.get(key, name)


# --------------------------------------------------------------------------------------------
# Safe parsing of model-written values
# --------------------------------------------------------------------------------------------

_SPECIAL_NAMES: Final[dict[str, float]] = {"inf": math.inf, "nan": math.nan}
_CONSTANT_TYPES: Final = (type(None), bool, int, float, complex, str, bytes)
_ITERABLE_ARG_TYPES: Final = (list, tuple, set, frozenset)


def _reject(message: str) -> NoReturn:
    raise ValueError(f"not a supported literal: {message}")


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return f"call of {func.id!r}"
        return "call"
    if isinstance(node, ast.Name):
        return f"name {node.id!r}"
    if isinstance(node, ast.BinOp | ast.UnaryOp | ast.BoolOp):
        return f"operator {type(node.op).__name__}"
    return f"{type(node).__name__} expression"


class _LiteralParser:
    __slots__ = ("max_depth",)

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth

    def convert(self, node: ast.expr, depth: int) -> Any:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            if node.id in _SPECIAL_NAMES:
                return _SPECIAL_NAMES[node.id]
            _reject(_describe(node))
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
        return self._call(node, depth)

    @staticmethod
    def _constant(node: ast.Constant) -> Any:
        value = node.value
        if type(value) not in _CONSTANT_TYPES:
            _reject(f"constant {value!r}")
        if type(value) is int and not -_INT_LIMIT < value < _INT_LIMIT:
            _reject(f"int literal with more than {_MAX_INT_DIGITS} digits")
        return value

    def _number(self, node: ast.expr, depth: int, allowed: tuple[type, ...]) -> Any:
        # A number written without operators: a constant, inf/nan, or float('...').
        if not isinstance(node, ast.Constant | ast.Name | ast.Call):
            _reject(f"{_describe(node)} inside a number")
        value = self.convert(node, depth)
        if type(value) not in allowed:
            _reject(f"{type(value).__name__} where a number was expected")
        return value

    def _signed(self, node: ast.UnaryOp, depth: int) -> Any:
        if not isinstance(node.op, ast.USub | ast.UAdd):
            _reject(_describe(node))
        value = self._number(node.operand, depth, (int, float, complex))
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

    def _call(self, node: ast.Call, depth: int) -> Any:
        func = node.func
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
    accepts) and the bare names ``inf`` and ``nan``.  Everything else (other names, calls,
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
# Comparison
# --------------------------------------------------------------------------------------------

_NUMBER_TYPES: Final = frozenset({bool, int, float, complex})
_COMPARABLE_TYPES: Final = frozenset(
    {type(None), bool, int, float, complex, str, bytes, range, list, tuple, dict, set, frozenset}
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
        if type(obj) is dict:
            children: list[object] = [*obj.keys(), *obj.values()]
        elif type(obj) in (list, tuple, set, frozenset):
            children = list(obj)  # type: ignore[call-overload]
        else:
            continue
        if depth >= _MAX_COMPARE_DEPTH:
            raise ValueError(f"value nested deeper than {_MAX_COMPARE_DEPTH} (or cyclic)")
        stack.extend((child, depth + 1) for child in children)


def _has_nan(value: object) -> bool:
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
        ta = type(a)
        tb = type(b)
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
    raise ValueError(f"not a literal value: {cls.__name__}")


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
