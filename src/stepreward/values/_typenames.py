"""Type names: the name of a value's type, and a model-written type name made canonical."""

from __future__ import annotations

import builtins
import types
from typing import Final

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

