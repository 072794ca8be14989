"""Stand-ins for numpy arrays and scalars that need no numpy: dtypes, shapes, data, casts."""

from __future__ import annotations

import math
import re
import struct
import sys
from typing import Any, Final

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
        return _render(self)

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
        return _arrays_equal(self, other)

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError("the truth value of an array with more than one element is "
                             "ambiguous")
        return bool(_np_leaves(self.data)[0])

    def __repr__(self) -> str:
        return _render(self)

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



_NUMBER_TYPES: Final = frozenset({bool, int, float, complex})
_COMPARABLE_TYPES: Final = frozenset(
    {type(None), bool, int, float, complex, str, bytes, range, list, tuple, dict, set, frozenset,
     NumpyScalar, NumpyArray}
)


# Comparison and rendering import this module, so the stand-ins reach them through the package,
# which has loaded both by the time any stand-in is compared or shown.
def _arrays_equal(a: NumpyArray, b: NumpyArray) -> bool:
    from stepreward import values

    return values._comparison._Comparer(0.0).eq(a, b)


def _render(obj: NumpyArray | NumpyScalar) -> str:
    from stepreward import values

    return values._rendering._render(obj, 0)
