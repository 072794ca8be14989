"""Tests of stepreward.values: canonical literals, safe parsing, type names, comparison."""

from __future__ import annotations

import collections
import doctest
import importlib
import json
import math
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stepreward.values as values_module
from stepreward.values import (
    NOT_LITERAL,
    NumpyArray,
    NumpyScalar,
    dumps_literal,
    from_literal,
    literals_equal,
    loads_literal,
    normalize_type_name,
    parse_value,
    safe_repr,
    to_literal,
    type_name,
    values_equal,
)

SRC = Path(__file__).resolve().parents[2] / "src"
NAN = float("nan")
INF = float("inf")


def shape(x: Any) -> Any:
    """Recursive type structure of a literal value (float signs included, NaN marked)."""
    t = type(x)
    if t is list or t is tuple:
        return (t.__name__, tuple(shape(item) for item in x))
    if t is dict:
        return ("dict", tuple((shape(k), shape(v)) for k, v in x.items()))
    if t is set or t is frozenset:
        return (t.__name__, tuple(sorted((shape(item) for item in x), key=repr)))
    if t is float:
        return ("float", "nan" if math.isnan(x) else math.copysign(1.0, x))
    return (t.__name__,)


def encoded(x: Any) -> str:
    lit = to_literal(x)
    assert lit is not NOT_LITERAL
    return dumps_literal(lit)


def roundtrip(x: Any) -> Any:
    lit = to_literal(x)
    assert lit is not NOT_LITERAL
    text = dumps_literal(lit)
    text.encode("utf-8")  # always valid UTF-8, even for lone surrogates
    back = from_literal(loads_literal(text))
    assert shape(back) == shape(x)
    assert values_equal(back, x)
    again = to_literal(back)
    assert again is not NOT_LITERAL
    assert dumps_literal(again) == text
    return back


def nest(levels: int, inner: Any = 0) -> Any:
    value: Any = inner
    for _ in range(levels):
        value = [value]
    return value


def test_doctests() -> None:
    # The package's docstring and public classes, then each module's functions.
    modules = [values_module, *(importlib.import_module(f"{values_module.__name__}.{info.name}")
                                for info in pkgutil.iter_modules(values_module.__path__))]
    assert len(modules) == 7
    results = [doctest.testmod(module) for module in modules]
    assert sum(r.failed for r in results) == 0
    assert sum(r.attempted for r in results) >= 25


# ------------------------------------------------------------------------------------------
# Encoding
# ------------------------------------------------------------------------------------------

ROUND_TRIP_CASES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    10**4299,
    -(10**300),
    0.0,
    -0.0,
    1.0,
    1e16,
    1e-300,
    5e-324,
    1.7976931348623157e308,
    INF,
    -INF,
    NAN,
    1 + 2j,
    complex(-0.0, -0.0),
    complex(INF, NAN),
    "",
    "plain",
    "é ü 中文 🎉",
    "\ud800",
    "a\udfffb\\u0041\\",
    "\\ud800",
    "\x00\n\t\"'",
    b"",
    b"\x00\xff bytes",
    [],
    (),
    {},
    set(),
    frozenset(),
    [[]],
    ((),),
    (1,),
    [1, 2.0, "3", None, True],
    {"a": 1, "b": [1, 2]},
    {(1, 2): "tuple key", 3: "int key", None: 0, 1.5: 2, frozenset({1}): 3, b"k": 4},
    {"z": 1, "a": 2, 3: 3},  # insertion order kept
    {1, 2, 3},
    {"a", "b", ("c", 1)},
    frozenset({frozenset({1, 2}), frozenset()}),
    {NAN, 1.0},
    {1: {2: {3: [set(), frozenset({()})]}}},
    range(0),
    range(5),
    range(-3, 10, 2),
    range(10, 0, -3),
    range(2**70, 2**80, 2**65),
    [range(3), (range(1),)],
    nest(100),
    NumpyScalar("uint64", 2**64 - 1),
    NumpyScalar("complex64", complex(1.5, -NAN)),
    NumpyArray("float32", [2, 2], [[1.5, NAN], [INF, -0.0]]),
    NumpyArray("str", [2], ["a", "\ud800"]),
    NumpyArray("int64", [2, 0], [[], []]),
    {NumpyScalar("int8", 1): NumpyArray("bool", [], True)},
]


@pytest.mark.parametrize("value", ROUND_TRIP_CASES, ids=lambda v: repr(v)[:40])
def test_round_trip(value: Any) -> None:
    roundtrip(value)


def test_round_trip_keeps_dict_order_and_set_types() -> None:
    back = roundtrip({"z": {1}, "a": frozenset({2})})
    assert list(back) == ["z", "a"]
    assert type(back["z"]) is set
    assert type(back["a"]) is frozenset


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (2**63 - 1, "9223372036854775807"),
        (2**63, '{"int":"9223372036854775808"}'),
        (-(2**63) - 1, '{"int":"-9223372036854775809"}'),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (INF, '{"float":"inf"}'),
        (-INF, '{"float":"-inf"}'),
        (NAN, '{"float":"nan"}'),
        (1 + 2j, '{"complex":[1.0,2.0]}'),
        (complex(0, INF), '{"complex":[0.0,{"float":"inf"}]}'),
        ("é", '"é"'),
        ("a\\b", '"a\\\\b"'),
        ("a\ud800\\", '{"str_esc":"a\\\\ud800\\\\\\\\"}'),
        (b"\x01\xab", '{"bytes":"01ab"}'),
        ([1, [2]], "[1,[2]]"),
        ((1,), '{"tuple":[1]}'),
        ({(1,): 2}, '{"dict":[[{"tuple":[1]},2]]}'),
        ({3, 1, 2}, '{"set":[1,2,3]}'),
        (frozenset({"b", "a"}), '{"frozenset":["a","b"]}'),
        (range(1, 5, 2), '{"range":[1,5,2]}'),
    ],
    ids=repr,
)
def test_encoding_format(value: Any, expected: str) -> None:
    assert encoded(value) == expected


def test_str_esc_payload() -> None:
    assert to_literal("x\udc80\\") == {"str_esc": "x\\udc80\\\\"}
    assert to_literal("no surrogate \\ud800") == "no surrogate \\ud800"


def test_floats_stay_floats_through_json() -> None:
    for value in (1.0, -0.0, 0.0, 1e16, 1e300, -2.5):
        lit = to_literal(value)
        text = json.dumps(lit)
        assert "." in text or "e" in text
        back = from_literal(loads_literal(text))
        assert type(back) is float
        assert math.copysign(1.0, back) == math.copysign(1.0, value)
        assert back == value


def test_dumps_is_deterministic_and_compact() -> None:
    value = {"b": {3, 1, 2}, "a": [1.5, None, (b"x", "é")]}
    texts = {encoded(value) for _ in range(3)}
    assert len(texts) == 1
    (text,) = texts
    assert " " not in text
    assert text == encoded({"b": {2, 3, 1}, "a": [1.5, None, (b"x", "é")]})


_HASHSEED_SCRIPT = """
import sys
sys.path.insert(0, {src!r})
from stepreward.values import dumps_literal, to_literal
words = ["w%d-%s" % (i, "x" * (i % 7)) for i in range(60)]
value = {{
    "strings": set(words),
    "frozen": frozenset(words[:20]),
    "tuples": {{(w, i) for i, w in enumerate(words[:30])}},
    "nested": {{frozenset(words[i:i + 3]) for i in range(0, 30, 3)}},
    "bytes": {{w.encode() for w in words[:25]}},
}}
print(dumps_literal(to_literal(value)))
print("|".join(list(set(words))[:10]))
print("pydantic" in sys.modules, "site" in sys.modules)
"""


def test_set_encoding_is_independent_of_hash_seed() -> None:
    script = _HASHSEED_SCRIPT.format(src=str(SRC))
    outputs = []
    for seed in ("1", "2", "3"):
        env = {"PYTHONHASHSEED": seed, "PATH": os.environ.get("PATH", "")}
        proc = subprocess.run(
            [sys.executable, "-S", "-E", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout.splitlines())
    encodings = {out[0] for out in outputs}
    raw_orders = {out[1] for out in outputs}
    assert len(encodings) == 1
    assert len(raw_orders) > 1, "hash seeds did not change set order; test is vacuous"
    # Imported with `python -S` (no site-packages): stdlib only.
    assert all(out[2] == "False False" for out in outputs)


# ------------------------------------------------------------------------------------------
# NOT_LITERAL
# ------------------------------------------------------------------------------------------


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


class MyList(list[Any]):
    pass


class MyInt(int):
    pass


def _self_referencing_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def _self_referencing_dict() -> dict[str, Any]:
    value: dict[str, Any] = {}
    value["me"] = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        Point(1),
        MyList([1]),
        MyInt(3),
        True.__class__,  # a type object
        [1, len],
        [1, lambda: 0],
        {"k": Point(1)},
        {1, (2, Point)},
        (1, bytearray(b"x")),
        {1: object()},
        collections.OrderedDict(a=1),
        collections.Counter("ab"),
        [iter([])],
        _self_referencing_list(),
        _self_referencing_dict(),
        [0] * 10_001,
        [[0] * 5_000, [0] * 5_000],  # 10_002 elements in total
        nest(101),
        10**4300,
        -(10**5000),
        range(10**4300),
        Ellipsis,
        NotImplemented,
    ],
    ids=lambda v: type(v).__name__,
)
def test_not_literal(value: Any) -> None:
    assert to_literal(value) is NOT_LITERAL


def test_limits_are_inclusive_and_configurable() -> None:
    assert to_literal([0] * 10_000) is not NOT_LITERAL
    assert to_literal(nest(100)) is not NOT_LITERAL
    assert to_literal([1, 2, 3], max_items=2) is NOT_LITERAL
    assert to_literal({1: 2, 3: 4}, max_items=2) is not NOT_LITERAL
    assert to_literal([[1]], max_depth=1) is NOT_LITERAL
    assert to_literal([[1]], max_depth=2) is not NOT_LITERAL
    assert to_literal(5, max_depth=0) == 5
    # Past the interpreter's recursion limit: still a clean NOT_LITERAL, not a crash.
    assert to_literal(nest(5000), max_depth=10_000) is NOT_LITERAL
    with pytest.raises(ValueError, match="malformed literal"):
        from_literal(nest(5000))


def test_shared_references_are_not_cycles() -> None:
    inner = [1, 2]
    assert from_literal(to_literal([inner, inner, (inner,)])) == [[1, 2], [1, 2], ([1, 2],)]


def test_not_literal_is_a_singleton_sentinel() -> None:
    import copy
    import pickle

    from stepreward.values import NotLiteralType

    assert list(NotLiteralType) == [NOT_LITERAL]
    assert copy.deepcopy([NOT_LITERAL])[0] is NOT_LITERAL
    assert to_literal(NOT_LITERAL) is NOT_LITERAL  # the sentinel is no literal itself
    assert repr(NOT_LITERAL) == "NOT_LITERAL"
    assert pickle.loads(pickle.dumps(NOT_LITERAL)) is NOT_LITERAL
    assert to_literal(None) is None


class _Touched(Exception):
    pass


TOUCHED: list[str] = []


def _touch(name: str) -> Any:
    def method(self: Any, *args: Any) -> Any:
        TOUCHED.append(name)
        raise _Touched(name)

    return method


class Hostile:
    __eq__ = _touch("__eq__")
    __ne__ = _touch("__ne__")
    __repr__ = _touch("__repr__")
    __str__ = _touch("__str__")
    __iter__ = _touch("__iter__")
    __len__ = _touch("__len__")
    __bool__ = _touch("__bool__")
    __getattr__ = _touch("__getattr__")
    __reduce_ex__ = _touch("__reduce_ex__")

    def __hash__(self) -> int:
        TOUCHED.append("__hash__")
        return 1

    @property
    def __class__(self) -> type:  # type: ignore[override]
        TOUCHED.append("__class__")
        return list


class HostileList(list[Any]):
    __iter__ = _touch("__iter__")
    __len__ = _touch("__len__")
    __eq__ = _touch("__eq__")
    __getitem__ = _touch("__getitem__")
    __hash__ = _touch("__hash__")


class HostileFloat(float):
    __eq__ = _touch("__eq__")
    __ne__ = _touch("__ne__")
    __repr__ = _touch("__repr__")
    __hash__ = float.__hash__


class HostileStr(str):
    __eq__ = _touch("__eq__")
    __hash__ = str.__hash__
    encode = _touch("encode")
    isascii = _touch("isascii")


class HostileMeta(type):
    def __getattribute__(cls, name: str) -> Any:
        TOUCHED.append(f"meta.{name}")
        return super().__getattribute__(name)


class HostileWithMeta(metaclass=HostileMeta):
    pass


def test_hostile_objects_are_never_touched() -> None:
    hostile = Hostile()
    hostile_key_dict = {hostile: 1}
    hostile_set = {hostile}
    candidates = [
        hostile,
        [hostile],
        (1, hostile),
        hostile_set,
        frozenset(hostile_set),
        hostile_key_dict,
        {"k": hostile},
        HostileList([1, 2]),
        [HostileList([1])],
        HostileFloat(1.5),
        {HostileFloat(2.5)},
        HostileStr("s"),
        {HostileStr("s"): 1},
        HostileWithMeta(),
        [[[(hostile,)]]],
    ]
    TOUCHED.clear()
    for candidate in candidates:
        assert to_literal(candidate) is NOT_LITERAL
    with pytest.raises(TypeError):
        values_equal([hostile], [hostile])
    with pytest.raises(TypeError):
        values_equal(HostileFloat(1.0), 1.0)
    assert type_name(HostileWithMeta()).endswith("HostileWithMeta")
    assert type_name(hostile) == f"{__name__}.Hostile"
    assert TOUCHED == []


# ------------------------------------------------------------------------------------------
# from_literal / loads_literal errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lit",
    [
        {"nope": 1},
        {},
        {"tuple": [], "set": []},
        {"int": "12a"},
        {"int": 5},
        {"int": "1" * 4301},
        {"int": " 12"},
        {"float": "1.5"},
        {"float": 1.5},
        {"complex": [1.0]},
        {"complex": [1.0, "2"]},
        {"complex": 1},
        {"str_esc": "\\x41"},
        {"str_esc": "\\u12"},
        {"str_esc": "trailing\\"},
        {"str_esc": 3},
        {"bytes": "abc"},
        {"bytes": "zz"},
        {"bytes": "ab cd"},
        {"tuple": 1},
        {"tuple": {"a": 1}},
        {"dict": [[1]]},
        {"dict": [1, 2]},
        {"dict": {"a": 1}},
        {"dict": [[[1], 2]]},
        {"set": [[1]]},
        {"frozenset": [{"set": []}]},
        {"set": 1},
        {"range": [0, 1]},
        {"range": [0, 1, 0]},
        {"range": [0, 1.0, 1]},
        {"range": [0, 1, True]},
        [1, {"bad": 0}],
        1j,
        (1, 2),
        b"bytes",
        {1: 2},
        object(),
    ],
    ids=repr,
)
def test_from_literal_rejects_malformed(lit: Any) -> None:
    with pytest.raises(ValueError, match="malformed literal"):
        from_literal(lit)


def test_from_literal_is_lenient_where_harmless() -> None:
    assert from_literal({"int": "5"}) == 5
    assert from_literal({"complex": [1, 2]}) == 1 + 2j
    assert from_literal({"bytes": "AB"}) == b"\xab"
    assert from_literal({"str_esc": "no escapes"}) == "no escapes"


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "-Infinity", "{", "", "[1,]", "[" * 100_000])
def test_loads_literal_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        loads_literal(text)


def test_dumps_literal_rejects_raw_nan() -> None:
    with pytest.raises(ValueError):
        dumps_literal([NAN])


# ------------------------------------------------------------------------------------------
# Type names
# ------------------------------------------------------------------------------------------


def test_type_name() -> None:
    assert type_name(1) == "int"
    assert type_name(True) == "bool"
    assert type_name(None) == "NoneType"
    assert type_name("s") == "str"
    assert type_name(len) == "builtin_function_or_method"
    assert type_name(lambda: 0) == "function"
    assert type_name(int) == "type"
    assert type_name(collections.Counter()) == "collections.Counter"
    assert type_name(collections.OrderedDict()) == "collections.OrderedDict"
    assert type_name(Point(1)) == f"{Point.__module__}.Point"
    assert type_name(MyList()) == f"{__name__}.MyList"

    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec("class Point:\n    class Inner: pass\np = Point()\ni = Point.Inner()", namespace)
    assert type_name(namespace["p"]) == "__main__.Point"
    assert type_name(namespace["i"]) == "__main__.Point.Inner"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int", "int"),
        (" int\n", "int"),
        ("`int`", "int"),
        ("'str'", "str"),
        ('"float"', "float"),
        ("INT", "int"),
        ("Str", "str"),
        ("integer", "int"),
        ("Integer", "int"),
        ("string", "str"),
        ("boolean", "bool"),
        ("Boolean", "bool"),
        ("dictionary", "dict"),
        ("Dict", "dict"),
        ("List", "list"),
        ("None", "NoneType"),
        ("none", "NoneType"),
        ("NoneType", "NoneType"),
        ("nonetype", "NoneType"),
        ("<class 'int'>", "int"),
        ("`<class 'NoneType'>`", "NoneType"),
        ('<class "dict">', "dict"),
        ("<class '__main__.Point'>", "__main__.Point"),
        ("builtins.int", "int"),
        ("builtins.List", "list"),
        ("frozenset", "frozenset"),
        ("ValueError", "ValueError"),
        ("valueerror", "ValueError"),
        ("function", "function"),
        ("collections.Counter", "collections.Counter"),
        ("  __main__.Point  ", "__main__.Point"),
        ("Point", "Point"),
        ("List[int]", "List[int]"),
    ],
)
def test_normalize_type_name(text: str, expected: str) -> None:
    assert normalize_type_name(text) == expected


# ------------------------------------------------------------------------------------------
# parse_value
# ------------------------------------------------------------------------------------------

ACCEPTED: list[tuple[str, Any]] = [
    ("1", 1),
    ("  -1  ", -1),
    ("+7", 7),
    ("0x1f", 31),
    ("1_000", 1000),
    ("1.5", 1.5),
    ("-0.0", -0.0),
    ("1e16", 1e16),
    ("1e999", INF),
    ("2j", 2j),
    ("-2j", -2j),
    ("1+2j", 1 + 2j),
    ("(1.5-2j)", complex(1.5, -2)),
    ("-1-2j", complex(-1, -2)),
    ("inf", INF),
    ("-inf", -INF),
    ("nan", NAN),
    ("float('inf')", INF),
    ('float("-inf")', -INF),
    ("float('nan')", NAN),
    ("float('1.25')", 1.25),
    ("(inf+1j)", complex(INF, 1)),
    ("None", None),
    ("True", True),
    ("False", False),
    ("'s'", "s"),
    ('"a" "b"', "ab"),
    ("'\\ud800'", "\ud800"),
    ("'\\d'", "\\d"),
    ("b'\\x00ab'", b"\x00ab"),
    ("[]", []),
    ("[1, 'a', None]", [1, "a", None]),
    ("[1, 2,]", [1, 2]),
    ("()", ()),
    ("(1,)", (1,)),
    ("(1)", 1),
    ("{}", {}),
    ("{'a': 1, 2: [3]}", {"a": 1, 2: [3]}),
    ("{(1, 2): 3}", {(1, 2): 3}),
    ("{1, 2}", {1, 2}),
    ("set()", set()),
    ("set([1, 2, 2])", {1, 2}),
    ("set((1,))", {1}),
    ("frozenset()", frozenset()),
    ("frozenset([1])", frozenset({1})),
    ("frozenset({1, 2})", frozenset({1, 2})),
    ("{frozenset({1})}", {frozenset({1})}),
    ("range(3)", range(3)),
    ("range(0, 3)", range(0, 3)),
    ("range(10, -2, -3)", range(10, -2, -3)),
    ("[\n  1,\n  2,  # comment\n]", [1, 2]),
    ("[" * 100 + "]" * 100, nest(99, [])),
    # numpy values, as numpy prints them and as a model writes them.
    ("np.array([1, 2])", NumpyArray("int64", [2], [1, 2])),
    ("array([1, 2])", NumpyArray("int64", [2], [1, 2])),
    ("numpy.asarray([[1.], [2.]])", NumpyArray("float64", [2, 1], [[1.0], [2.0]])),
    ("array([0.1, 2. ], dtype=float32)", NumpyArray.from_data([0.1, 2.0], "float32")),
    ("np.array([1, 2], dtype='uint8')", NumpyArray("uint8", [2], [1, 2])),
    ("array(['a', 'bc'], dtype='<U2')", NumpyArray("str", [2], ["a", "bc"])),
    ("np.array([True, False])", NumpyArray("bool", [2], [True, False])),
    ("np.array([np.nan, -np.inf])", NumpyArray("float64", [2], [NAN, -INF])),
    ("np.array(5)", NumpyArray("int64", [], 5)),
    ("np.array([])", NumpyArray("float64", [0], [])),
    ("np.empty((0, 3), dtype=np.int32)", NumpyArray("int32", [0, 3], [])),
    ("np.int64(3)", NumpyScalar("int64", 3)),
    ("-np.int64(3)", NumpyScalar("int64", -3)),
    ("int64(3)", NumpyScalar("int64", 3)),
    ("np.float32(0.1)", NumpyScalar("float32", 0.10000000149011612)),
    ("np.float64(nan)", NumpyScalar("float64", NAN)),
    ("np.True_", NumpyScalar("bool", True)),
    ("np.str_('ab')", NumpyScalar("str", "ab")),
    ("[np.int8(1), {'k': np.array([1.5])}]",
     [NumpyScalar("int8", 1), {"k": NumpyArray("float64", [1], [1.5])}]),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED, ids=lambda v: repr(v)[:30])
def test_parse_value_accepts(text: str, expected: Any) -> None:
    value = parse_value(text)
    assert shape(value) == shape(expected)
    assert values_equal(value, expected)


REJECTED: list[str] = [
    "",
    "   ",
    "__import__('os').system('x')",
    "open('f')",
    "x",
    "print",
    "[i for i in range(3)]",
    "{i: i for i in range(3)}",
    "(i for i in ())",
    "lambda: 1",
    "1 + 1",
    "1 - 1",
    "2 ** 1000000",
    "10 ** 10000",
    "'a' * 10**9",
    "[1] * 10**9",
    "f'{x}'",
    "f'plain'",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "x[0]",
    "[1][0]",
    "(1).real",
    "not 1",
    "~1",
    "--1",
    "-(1+2j)",
    "1 + 2j + 3",
    "1j + 1",
    "True + 1j",
    "-True",
    "1 if 1 else 2",
    "1 < 2",
    "1 and 2",
    "...",
    "[*[1]]",
    "{**{}}",
    "(x := 1)",
    "1; 2",
    "import os",
    "set('abc')",
    "set(range(10**9))",
    "set([1], [2])",
    "set(iterable=[1])",
    "frozenset([[1]])",
    "{[1]: 2}",
    "{{1}}",
    "range(1.5)",
    "range()",
    "range(0, 1, 0)",
    "range(1, 2, 3, 4)",
    "range(True)",
    "float()",
    "float('abc')",
    "float([1])",
    "float(10**400)",
    "complex(1, 2)",
    "int('1')",
    "tuple()",
    "dict()",
    "bytes(10**9)",
    "os.system",
    "9" * 4301,
    "0x" + "f" * 4000,
    "[" * 10000 + "]" * 10000,
    "-" * 100_000 + "1",
    "[" * 101 + "]" * 101,
    "[" + "1," * 60_000 + "]",
    "\x00",
    "1\x00",
    "np.array([[1, 2], [3]])",
    "np.array([1, 'a'])",
    "np.array([1], copy=True)",
    "np.load('x.npy')",
    "np.array(x)",
    "np.int8(300)",
    "np.uint8(-1)",
    "np.array([1, 2], dtype=object)",
    "np.empty((2, 3))",
    "np.array({1: 2})",
    "np.zeros(3)",
    "numpy.ndarray",
]


@pytest.mark.parametrize("text", REJECTED, ids=lambda v: repr(v)[:30])
def test_parse_value_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_value(text)


def test_parse_value_limits() -> None:
    assert parse_value("[[1]]", max_depth=2) == [[1]]
    with pytest.raises(ValueError, match="deeper"):
        parse_value("[[1]]", max_depth=1)
    with pytest.raises(ValueError, match="longer"):
        parse_value("[1, 2, 3]", max_len=5)
    assert parse_value("9" * 4300) == int("9" * 4300)
    with pytest.raises(TypeError):
        parse_value(b"1")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# values_equal
# ------------------------------------------------------------------------------------------

_NAN_A = float("nan")
_NAN_B = float("nan")
_NAN_C = float("nan")

EQUAL_CASES: list[tuple[Any, Any, float]] = [
    (1, 1.0, 0.0),
    (1, True, 0.0),
    (1.0, True, 0.0),
    (0, False, 0.0),
    (0.0, -0.0, 0.0),
    (1, 1 + 0j, 0.0),
    (2**53 + 1, 2**53 + 1, 0.0),
    (NAN, float("nan"), 0.0),
    ([NAN], [float("nan")], 0.0),
    ((1, NAN), (1.0, float("nan")), 0.0),
    ({NAN}, {float("nan")}, 0.0),
    ({NAN, _NAN_A}, {_NAN_B, _NAN_C}, 0.0),
    (complex(NAN, 1), complex(NAN, 1), 0.0),
    ({NAN: 1}, {float("nan"): 1}, 0.0),
    ({_NAN_A: 1, _NAN_B: 2}, {_NAN_A: 2, _NAN_C: 1}, 0.0),
    ({(1, NAN): "a", 2: "b"}, {2: "b", (1, float("nan")): "a"}, 0.0),
    (INF, INF, 0.0),
    ({1: 2, 3: 4}, {3: 4, 1: 2}, 0.0),
    ({1: 2}, {1.0: 2.0}, 0.0),
    ({1, 2, 3}, {3, 2, 1}, 0.0),
    ({1, 2}, frozenset({1.0, 2}), 0.0),
    ({frozenset({1}), (1, 2)}, {(1.0, 2.0), frozenset({True})}, 0.0),
    (range(0), range(5, 5), 0.0),
    (range(0, 3, 2), range(0, 4, 2), 0.0),
    ("", "", 0.0),
    (b"x", b"x", 0.0),
    (None, None, 0.0),
    ([], [], 0.0),
    (set(), frozenset(), 0.0),
    (0.1 + 0.2, 0.3, 1e-9),
    (1.0, 1.0 + 1e-12, 1e-9),
    (1, 1.0 + 1e-12, 1e-9),
    (0.0, 1e-12, 1e-9),
    (complex(1, 2), complex(1 + 1e-12, 2 - 1e-12), 1e-9),
    ([1.0, (2.0, [3.0])], [1.0 + 1e-12, (2.0, [3.0 - 1e-12])], 1e-9),
    ({"k": 1.0}, {"k": 1.0 + 1e-12}, 1e-9),
    ({1.0, 2.0}, {1.0 + 1e-12, 2.0 - 1e-12}, 1e-9),
    ({frozenset({1.0, 2.0}), 3.0}, {3.0 + 1e-12, frozenset({2.0, 1.0 + 1e-12})}, 1e-9),
    ({(1.0, "a"), (1.0, "b")}, {(1.0 + 1e-12, "b"), (1.0 - 1e-12, "a")}, 1e-9),
    # A perfect matching exists although greedy pairing of 1.05 with 1.05 would fail.
    ({1.0, 1.05}, {1.05, 1.1}, 0.06),
    ({NAN, 1.0}, {float("nan"), 1.0 + 1e-12}, 1e-9),
    (INF, INF, 1e-9),
    (NumpyScalar("int64", 3), 3, 0.0),
    (NumpyScalar("int64", 3), 3.0, 0.0),
    (NumpyScalar("float32", 0.10000000149011612), 0.1, 0.0),
    (NumpyScalar("float64", NAN), NAN, 0.0),
    (NumpyArray.from_data([1, 2]), NumpyArray.from_data([1, 2], "int32"), 0.0),
    (NumpyArray.from_data([1, 2]), NumpyArray.from_data([1, 2], "uint8"), 0.0),
    (NumpyArray.from_data([0.1, NAN]), NumpyArray.from_data([0.1, NAN], "float32"), 0.0),
    (NumpyArray.from_data([0.1 + 0.2]), NumpyArray.from_data([0.3]), 1e-9),
    ([NumpyArray.from_data([[1, 2]])], [NumpyArray.from_data([[1, 2]])], 0.0),
    ({NumpyScalar("int64", 1): "a"}, {1: "a"}, 0.0),
]

UNEQUAL_CASES: list[tuple[Any, Any, float]] = [
    (1, 2, 0.0),
    (1, "1", 0.0),
    (1, None, 0.0),
    ("a", b"a", 0.0),
    ([1], (1,), 0.0),
    ([1, 2], [2, 1], 0.0),
    ([1], [1, 1], 0.0),
    ({1: 2}, {1: 3}, 0.0),
    ({1: 2}, {2: 2}, 0.0),
    ({1: 2}, [(1, 2)], 0.0),
    ({1, 2}, {1, 3}, 0.0),
    ({1}, [1], 0.0),
    (range(3), [0, 1, 2], 0.0),
    (range(3), (0, 1, 2), 0.0),
    (NAN, 1.0, 0.0),
    (NAN, None, 0.0),
    (NAN, INF, 1e-9),
    (INF, -INF, 0.0),
    (INF, 1e308, 1e-9),
    (2**53 + 1, float(2**53), 0.0),
    (0.1 + 0.2, 0.3, 0.0),
    (1.0, 1.1, 1e-9),
    (complex(1, 2), complex(1, 2.1), 1e-9),
    ({1.0: 1}, {1.0 + 1e-12: 1}, 1e-3),  # dict keys compare exactly
    ({1.0, 2.0}, {1.0, 2.5}, 1e-9),
    ({1.0, 1.1}, {1.0, 1.0 + 1e-12}, 1e-9),
    (10**400, 1.0, 0.1),
    ({_NAN_A: 1, _NAN_B: 2}, {_NAN_A: 1, _NAN_C: 3}, 0.0),
    ({NAN}, {1.0}, 0.0),
    (True, 2, 0.0),
    (NumpyArray.from_data([1, 2]), [1, 2], 0.0),
    (NumpyArray.from_data([1, 2]), NumpyArray.from_data([1.0, 2.0]), 0.0),
    (NumpyArray.from_data([1, 0]), NumpyArray.from_data([True, False]), 0.0),
    (NumpyArray.from_data([[1, 2]]), NumpyArray.from_data([1, 2]), 0.0),
    (NumpyArray.from_data([0.1 + 0.2]), NumpyArray.from_data([0.3]), 0.0),
    (NumpyArray.from_data([NAN]), NumpyArray.from_data([1.0]), 1e-9),
    (NumpyArray.from_data(["1"]), NumpyArray.from_data([1]), 0.0),
    (NumpyScalar("int64", 3), 4, 0.0),
    (NumpyScalar("float32", 0.10000000149011612), 0.1000001, 0.0),
    (NumpyArray.from_data(5), 5, 0.0),
]


@pytest.mark.parametrize(("a", "b", "tol"), EQUAL_CASES, ids=repr)
def test_values_equal(a: Any, b: Any, tol: float) -> None:
    assert values_equal(a, b, float_tol=tol)
    assert values_equal(b, a, float_tol=tol)


@pytest.mark.parametrize(("a", "b", "tol"), UNEQUAL_CASES, ids=repr)
def test_values_unequal(a: Any, b: Any, tol: float) -> None:
    assert not values_equal(a, b, float_tol=tol)
    assert not values_equal(b, a, float_tol=tol)


def test_values_equal_tolerance_on_large_sets() -> None:
    a = {float(i) for i in range(1000)}
    b = {float(i) + (1e-12 if i % 10 == 0 else 0.0) for i in range(1000)}
    assert values_equal(a, b, float_tol=1e-9)
    assert not values_equal(a, b)
    assert values_equal(a, set(a))


def test_values_equal_rejects_bad_input() -> None:
    with pytest.raises(TypeError):
        values_equal(object(), object())
    with pytest.raises(TypeError):
        values_equal([1, [Point(1)]], 1)
    with pytest.raises(TypeError):
        values_equal(MyList(), [])
    with pytest.raises(TypeError):
        values_equal(bytearray(b"x"), b"x")
    with pytest.raises(ValueError):
        values_equal(_self_referencing_list(), [])
    with pytest.raises(ValueError):
        values_equal(nest(300), nest(300))
    with pytest.raises(ValueError):
        values_equal(1.0, 1.0, float_tol=-1.0)
    with pytest.raises(ValueError):
        values_equal(1.0, 1.0, float_tol=NAN)
    assert values_equal(nest(150), nest(150))


def test_literals_equal() -> None:
    assert literals_equal({"set": [1, 2]}, {"frozenset": [2.0, 1]})
    assert literals_equal({"float": "nan"}, {"float": "nan"})
    assert literals_equal(0.3, 0.30000000000000004, float_tol=1e-9)
    assert not literals_equal([1], {"tuple": [1]})
    with pytest.raises(ValueError):
        literals_equal({"bogus": 1}, 1)


# ------------------------------------------------------------------------------------------
# safe_repr
# ------------------------------------------------------------------------------------------


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no")


class SneakyStr(str):
    def __getitem__(self, key: Any) -> Any:
        raise RuntimeError("no slicing")

    def __len__(self) -> int:
        raise RuntimeError("no len")


class SneakyRepr:
    def __repr__(self) -> str:
        return SneakyStr("x" * 50)


def test_safe_repr() -> None:
    assert safe_repr([1, 2]) == ("[1, 2]", False)
    assert safe_repr("x" * 10, limit=12) == ("'xxxxxxxxxx'", False)
    text, truncated = safe_repr(list(range(1000)))
    assert truncated
    assert len(text) == 200
    assert text.startswith("[0, 1, 2")
    assert safe_repr(BadRepr()) == (f"<unrepresentable {__name__}.BadRepr>", False)
    assert safe_repr(Hostile())[0] == f"<unrepresentable {__name__}.Hostile>"
    text, truncated = safe_repr(SneakyRepr(), limit=10)
    assert (text, truncated) == ("x" * 10, True)
    assert type(text) is str
    assert safe_repr(1, limit=0) == ("", True)
    with pytest.raises(ValueError):
        safe_repr(1, limit=-1)


# ------------------------------------------------------------------------------------------
# Property tests
# ------------------------------------------------------------------------------------------


def _scalars(finite: bool) -> st.SearchStrategy[Any]:
    floats = st.floats(allow_nan=not finite, allow_infinity=not finite)
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.integers(min_value=-(10**300), max_value=10**300),
        floats,
        st.builds(complex, floats, floats),
        st.text(st.characters(exclude_categories=()), max_size=8),
        st.binary(max_size=8),
        st.builds(range, st.integers(-5, 5), st.integers(-5, 5), st.sampled_from([1, 2, -1])),
    )


def _hashables(finite: bool) -> st.SearchStrategy[Any]:
    return st.recursive(
        _scalars(finite),
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(tuple),
            st.frozensets(children, max_size=3),
        ),
        max_leaves=6,
    )


def _values(finite: bool) -> st.SearchStrategy[Any]:
    keys = _hashables(finite)
    return st.recursive(
        _scalars(finite),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=4).map(tuple),
            st.dictionaries(keys, children, max_size=4),
            st.sets(keys, max_size=4),
            st.frozensets(keys, max_size=4),
        ),
        max_leaves=16,
    )


@settings(max_examples=300, deadline=None)
@given(_values(finite=False))
def test_property_round_trip(value: Any) -> None:
    roundtrip(value)
    assert values_equal(value, value)


@settings(max_examples=300, deadline=None)
@given(_values(finite=True))
def test_property_parse_repr(value: Any) -> None:
    parsed = parse_value(repr(value))
    assert values_equal(parsed, value)
    assert shape(parsed) == shape(value)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=5), st.integers(), st.binary(max_size=5))))
def test_property_set_encoding_ignores_insertion_order(items: list[Any]) -> None:
    assert encoded(set(items)) == encoded(set(reversed(items)))
