"""How each (type, method) of the vocabulary is written in code, type-correctly.

Every entry takes the builder and a receiver expression of the method's type and returns an
:class:`Use`: an expression with its result type, or a statement (for mutating methods). The
forms avoid exceptions where a precondition is easy to establish (``x in s`` before
``s.index(x)``, non-zero divisors, existing keys), so most programs survive execution.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["OPS", "Builder", "Use", "concrete_types"]

INT, FLOAT, STR, BOOL, BYTES = "int", "float", "str", "bool", "bytes"
LI, LS, TI, TS, DSI, SI = "list[int]", "list[str]", "tuple[int]", "tuple[str]", "dict[str,int]", \
    "set[int]"


@dataclass(frozen=True)
class Use:
    """One use of a method: an expression of ``rtype``, or a statement when ``rtype`` is None."""

    code: str
    rtype: str | None
    guard: str | None = None  # a condition under which the use is safe (emitted as an `if`)


class Builder(Protocol):
    """What an op needs from the generator's builder (:class:`stepreward.synth._builder.Builder`).

    Declared here so that the generator imports its op table and not the other way round.
    """

    rng: random.Random

    def need(self, module: str) -> None: ...
    def type_of(self, expr: str) -> str: ...
    def small_index(self) -> str: ...
    def char_lit(self) -> str: ...
    def pair_lit(self) -> str: ...
    def two_chars(self) -> tuple[str, str]: ...
    def value(self, t: str) -> str: ...
    def other(self, t: str, not_: str = "") -> str: ...
    def element_of(self, t: str, r: str) -> str: ...
    def key(self, r: str) -> str: ...
    def mutable(self, r: str) -> str: ...
    def predicate_for(self, r: str) -> str: ...
    def range_args(self, r: str) -> str: ...


Op = Callable[[Builder, str], Use | None]


def concrete_types(family: str) -> tuple[str, ...]:
    """The concrete receiver types a vocabulary type is generated as."""
    return {"list": (LI, LS), "tuple": (TI, TS), "dict": (DSI,), "set": (SI,), "str": (STR,),
            "float": (FLOAT,), "enumerate": (LI, LS, STR), "filter": (LI, LS),
            "range": (INT, LI, STR), "zip": (LI, LS, STR), "reverse": (LI, LS, STR, TI)}[family]


def elem(t: str) -> str:
    return {LI: INT, TI: INT, SI: INT, LS: STR, TS: STR, STR: STR, DSI: STR}.get(t, INT)


def _cmp(b: Builder, r: str, op: str, t: str) -> Use:
    return Use(f"{r} {op} {b.other(t, not_=r)}", BOOL)


def _dict_lookup(b: Builder, r: str) -> Use:
    k = b.key(r)
    return Use(f"{r}[{k}]", INT, guard=f"{k} in {r}")


def _set_remove(b: Builder, r: str) -> Use:
    v = b.value(INT)
    return Use(f"{b.mutable(r)}.remove({v})", None, guard=f"{v} in {r}")


def _str_find(name: str) -> Op:
    def op(b: Builder, r: str) -> Use:
        c = b.char_lit()
        return Use(f"{r}.{name}({c})", INT, guard=f"{c} in {r}")
    return op


def _translate(b: Builder, r: str) -> Use:
    a, z = b.two_chars()
    return Use(f"{r}.translate({{ord({a}): {z}}})", STR)


def _math(name: str) -> Op:
    def op(b: Builder, r: str) -> Use:
        b.need("math")
        return Use(f"math.{name}({r})", INT)
    return op


def _seq_common(t: str) -> dict[str, Op]:
    """Operators shared by list, tuple and str receivers."""
    return {
        "+": lambda b, r: Use(f"{r} + {b.other(t, not_=r)}", t),
        "[index]": lambda b, r: Use(f"{r}[{b.small_index()}]", elem(t),
                                    guard=f"len({r}) > 3"),
        "[:]": lambda b, r: Use(f"{r}[:]", t),
        "[index1:index2]": lambda b, r: Use(f"{r}[{b.rng.randint(0, 2)}:{b.rng.randint(3, 6)}]",
                                            t),
        "[index:]": lambda b, r: Use(f"{r}[{b.rng.randint(1, 3)}:]", t),
        "[:index2]": lambda b, r: Use(f"{r}[:{b.rng.randint(2, 5)}]", t),
        "in": lambda b, r: Use(f"{b.element_of(t, r)} in {r}", BOOL),
        "not in": lambda b, r: Use(f"{b.element_of(t, r)} not in {r}", BOOL),
        "==": lambda b, r: _cmp(b, r, "==", t),
        "!=": lambda b, r: _cmp(b, r, "!=", t),
        ">=": lambda b, r: _cmp(b, r, ">=", t),
        ">": lambda b, r: _cmp(b, r, ">", t),
        "<=": lambda b, r: _cmp(b, r, "<=", t),
        "<": lambda b, r: _cmp(b, r, "<", t),
        "*": lambda b, r: Use(f"{r} * {b.rng.randint(2, 3)}", t),
    }


def _list_ops(t: str) -> dict[str, Op]:
    ops = _seq_common(t)
    ops.update({
        "len": lambda b, r: Use(f"len({r})", INT),
        "*=": lambda b, r: Use(f"{b.mutable(r)} *= 2", None),
        "reversed": lambda b, r: Use(f"list(reversed({r}))", t),
        "append": lambda b, r: Use(f"{b.mutable(r)}.append({b.value(elem(t))})", None),
        "clear": lambda b, r: Use(f"{b.mutable(r)}.clear()", None),
        "copy": lambda b, r: Use(f"{r}.copy()", t),
        "count": lambda b, r: Use(f"{r}.count({b.element_of(t, r)})", INT),
        "extend": lambda b, r: Use(f"{b.mutable(r)}.extend({b.other(t, not_=r)})", None),
        "index": lambda b, r: Use(f"{r}.index({r}[-1])", INT, guard=f"{r}"),
        "insert": lambda b, r: Use(f"{b.mutable(r)}.insert({b.small_index()}, "
                                   f"{b.value(elem(t))})", None),
        "pop": lambda b, r: Use(f"{b.mutable(r)}.pop({b.rng.choice(['', '0', '-1'])})",
                                elem(t), guard=f"{r}"),
        "remove": lambda b, r: Use(f"{b.mutable(r)}.remove({r}[0])", None, guard=f"{r}"),
        "reverse": lambda b, r: Use(f"{b.mutable(r)}.reverse()", None),
        "sort": lambda b, r: Use(f"{b.mutable(r)}.sort({b.rng.choice(['', 'reverse=True'])})",
                                 None),
    })
    return ops


def _tuple_ops(t: str) -> dict[str, Op]:
    ops = _seq_common(t)
    ops.update({
        "len": lambda b, r: Use(f"len({r})", INT),
        "count": lambda b, r: Use(f"{r}.count({b.element_of(t, r)})", INT),
        "index": lambda b, r: Use(f"{r}.index({r}[0])", INT, guard=f"{r}"),
    })
    return ops


def _dict_ops() -> dict[str, Op]:
    t = DSI
    return {
        "in": lambda b, r: Use(f"{b.key(r)} in {r}", BOOL),
        "not in": lambda b, r: Use(f"{b.key(r)} not in {r}", BOOL),
        "==": lambda b, r: Use(f"{r} == {b.other(t, not_=r)}", BOOL),
        "!=": lambda b, r: Use(f"{r} != {b.other(t, not_=r)}", BOOL),
        "dict[key]": _dict_lookup,
        "len": lambda b, r: Use(f"len({r})", INT),
        "|": lambda b, r: Use(f"{r} | {b.other(t, not_=r)}", t),
        "dict[key] = value": lambda b, r: Use(f"{b.mutable(r)}[{b.key(r)}] = {b.value(INT)}",
                                              None),
        "clear": lambda b, r: Use(f"{b.mutable(r)}.clear()", None),
        "copy": lambda b, r: Use(f"{r}.copy()", t),
        "fromkeys": lambda b, r: Use(f"dict.fromkeys({r}, {b.value(INT)})", t),
        "get": lambda b, r: Use(f"{r}.get({b.key(r)}, {b.value(INT)})", INT),
        "items": lambda b, r: Use(f"sorted({r}.items())", "list[tuple]"),
        "keys": lambda b, r: Use(f"list({r}.keys())", LS),
        "pop": lambda b, r: Use(f"{b.mutable(r)}.pop({b.key(r)}, {b.value(INT)})", INT),
        "popitem": lambda b, r: Use(f"{b.mutable(r)}.popitem()", "tuple", guard=f"{r}"),
        "setdefault": lambda b, r: Use(f"{b.mutable(r)}.setdefault({b.key(r)}, "
                                       f"{b.value(INT)})", INT),
        "update": lambda b, r: Use(f"{b.mutable(r)}.update({b.other(t, not_=r)})", None),
        "values": lambda b, r: Use(f"list({r}.values())", LI),
    }


def _set_ops() -> dict[str, Op]:
    t = SI

    def binop(sym: str) -> Op:
        return lambda b, r: Use(f"{r} {sym} {b.other(t, not_=r)}", t)

    def inplace(sym: str) -> Op:
        return lambda b, r: Use(f"{b.mutable(r)} {sym} {b.other(t, not_=r)}", None)

    def method(name: str, rtype: str | None) -> Op:
        return lambda b, r: Use(
            f"{b.mutable(r) if rtype is None else r}.{name}({b.other(t, not_=r)})", rtype)

    return {
        "&": binop("&"), "-": binop("-"), "^": binop("^"),
        "&=": inplace("&="), "|=": inplace("|="), "-=": inplace("-="), "^=": inplace("^="),
        "in": lambda b, r: Use(f"{b.value(INT)} in {r}", BOOL),
        "not in": lambda b, r: Use(f"{b.value(INT)} not in {r}", BOOL),
        "==": lambda b, r: _cmp(b, r, "==", t), "!=": lambda b, r: _cmp(b, r, "!=", t),
        ">=": lambda b, r: _cmp(b, r, ">=", t), ">": lambda b, r: _cmp(b, r, ">", t),
        "<=": lambda b, r: _cmp(b, r, "<=", t), "<": lambda b, r: _cmp(b, r, "<", t),
        "len": lambda b, r: Use(f"len({r})", INT),
        "add": lambda b, r: Use(f"{b.mutable(r)}.add({b.value(INT)})", None),
        "clear": lambda b, r: Use(f"{b.mutable(r)}.clear()", None),
        "copy": lambda b, r: Use(f"{r}.copy()", t),
        "difference": method("difference", t),
        "difference_update": method("difference_update", None),
        "discard": lambda b, r: Use(f"{b.mutable(r)}.discard({b.value(INT)})", None),
        "intersection": method("intersection", t),
        "intersection_update": method("intersection_update", None),
        "isdisjoint": method("isdisjoint", BOOL),
        "issubset": method("issubset", BOOL),
        "issuperset": method("issuperset", BOOL),
        # Sets hold small ints, whose order is the same on every interpreter and seed.
        "pop": lambda b, r: Use(f"{b.mutable(r)}.pop()", INT, guard=f"{r}"),
        "remove": _set_remove,
        "symmetric_difference": method("symmetric_difference", t),
        "symmetric_difference_update": method("symmetric_difference_update", None),
        "union": method("union", t),
        "update": method("update", None),
    }


def _str_ops() -> dict[str, Op]:
    ops = _seq_common(STR)

    def m0(name: str, rtype: str = STR) -> Op:
        return lambda b, r: Use(f"{r}.{name}()", rtype)

    def m1(name: str, rtype: str = STR) -> Op:
        return lambda b, r: Use(f"{r}.{name}({b.char_lit()})", rtype)

    ops.update({
        "len()": lambda b, r: Use(f"len({r})", INT),
        "str.format": lambda b, r: Use(f"'{{}}-{{}}'.format({r}, {b.value(INT)})", STR),
        "format()": lambda b, r: Use(f"format({r}, '{b.rng.choice(['>', '<', '^'])}"
                                     f"{b.rng.randint(8, 14)}')", STR),
        "format": lambda b, r: Use(f"'[{{}}:{{}}]'.format({r}, len({r}))", STR),
        "format_map": lambda b, r: Use(f"'{{w}}/{{n}}'.format_map({{'w': {r}, 'n': len({r})}})",
                                       STR),
        "capitalize": m0("capitalize"), "casefold": m0("casefold"), "lower": m0("lower"),
        "upper": m0("upper"), "swapcase": m0("swapcase"), "title": m0("title"),
        "strip": m0("strip"), "lstrip": m1("lstrip"), "rstrip": m1("rstrip"),
        "center": lambda b, r: Use(f"{r}.center({b.rng.randint(10, 16)}, {b.char_lit()})", STR),
        "ljust": lambda b, r: Use(f"{r}.ljust({b.rng.randint(10, 16)}, {b.char_lit()})", STR),
        "rjust": lambda b, r: Use(f"{r}.rjust({b.rng.randint(10, 16)}, {b.char_lit()})", STR),
        "zfill": lambda b, r: Use(f"{r}.zfill({b.rng.randint(8, 14)})", STR),
        "count": m1("count", INT), "find": m1("find", INT), "rfind": m1("rfind", INT),
        "index": _str_find("index"),
        "rindex": _str_find("rindex"),
        "encode": lambda b, r: Use(f"len({r}.encode())", INT),
        "endswith": m1("endswith", BOOL), "startswith": m1("startswith", BOOL),
        "expandtabs": lambda b, r: Use(f"{r}.replace(' ', '\\t').expandtabs(4)", STR),
        "isalnum": m0("isalnum", BOOL), "isalpha": m0("isalpha", BOOL),
        "isascii": m0("isascii", BOOL), "isdecimal": m0("isdecimal", BOOL),
        "isdigit": m0("isdigit", BOOL), "isidentifier": m0("isidentifier", BOOL),
        "islower": m0("islower", BOOL), "isnumeric": m0("isnumeric", BOOL),
        "isprintable": m0("isprintable", BOOL), "isspace": m0("isspace", BOOL),
        "istitle": m0("istitle", BOOL), "isupper": m0("isupper", BOOL),
        "join": lambda b, r: Use(f"{b.char_lit()}.join({r})", STR),
        "maketrans": lambda b, r: Use(
            f"{r}.translate(str.maketrans({b.pair_lit()}))", STR),
        "translate": _translate,
        "partition": lambda b, r: Use(f"{r}.partition({b.char_lit()})", "tuple"),
        "rpartition": lambda b, r: Use(f"{r}.rpartition({b.char_lit()})", "tuple"),
        "removeprefix": lambda b, r: Use(f"{r}.removeprefix({r}[:{b.rng.randint(1, 3)}])",
                                         STR),
        "removesuffix": lambda b, r: Use(f"{r}.removesuffix({b.char_lit()})", STR),
        "replace": lambda b, r: Use(f"{r}.replace({', '.join(b.two_chars())})", STR),
        "split": lambda b, r: Use(f"{r}.split({b.rng.choice(['', repr(' ')])})", LS),
        "rsplit": lambda b, r: Use(f"{r}.rsplit({b.char_lit()}, 1)", LS),
        "splitlines": lambda b, r: Use(f"{r}.replace(' ', '\\n').splitlines()", LS),
    })
    return ops


def _float_ops() -> dict[str, Op]:
    t = FLOAT
    return {
        "+": lambda b, r: Use(f"{r} + {b.value(FLOAT)}", FLOAT),
        "-": lambda b, r: Use(f"{r} - {b.value(FLOAT)}", FLOAT),
        "%": lambda b, r: Use(f"{r} % {b.rng.choice(['2', '3', '2.5'])}", FLOAT),
        "bool()": lambda b, r: Use(f"bool({r})", BOOL),
        "math.ceil()": _math("ceil"),
        "math.floor()": _math("floor"),
        "divmod": lambda b, r: Use(f"divmod({r}, {b.rng.choice(['2', '3', '4'])})", "tuple"),
        ">=": lambda b, r: _cmp(b, r, ">=", t), ">": lambda b, r: _cmp(b, r, ">", t),
        "<": lambda b, r: _cmp(b, r, "<", t), "<=": lambda b, r: _cmp(b, r, "<=", t),
        "!=": lambda b, r: _cmp(b, r, "!=", t),
        "int()": lambda b, r: Use(f"int({r})", INT),
        "round": lambda b, r: Use(f"round({r}, {b.rng.choice(['', '1'])})".replace(", )", ")"),
                                  FLOAT),
        "as_integer_ratio": lambda b, r: Use(f"{r}.as_integer_ratio()", "tuple"),
        "conjugate": lambda b, r: Use(f"{r}.conjugate()", FLOAT),
        "is_integer": lambda b, r: Use(f"{r}.is_integer()", BOOL),
    }


def _reversed(b: Builder, r: str) -> Use:
    t = b.type_of(r)
    if t == STR:
        return Use(f"''.join(reversed({r}))", STR)
    return Use(f"list(reversed({r}))", LS if t in (LS, TS) else LI)


def _iter_ops() -> dict[tuple[str, str], Op]:
    return {
        ("enumerate", "enumerate"): lambda b, r: Use(
            f"[i * {b.rng.randint(2, 3)} for i, _ in enumerate({r}) if i % 2 == 0]", LI),
        ("filter", "filter"): lambda b, r: Use(f"list(filter({b.predicate_for(r)}, {r}))",
                                                b.type_of(r)),
        ("range", "range"): lambda b, r: Use(f"list(range({b.range_args(r)}))", LI),
        ("zip", "zip"): lambda b, r: Use(f"list(zip({r}, {r}[1:]))", "list[tuple]"),
        ("reverse", "reversed"): _reversed,
    }


OPS: dict[tuple[str, str], dict[str, Op]] = {}
for _t in (LI, LS):
    OPS[("list", _t)] = _list_ops(_t)
for _t in (TI, TS):
    OPS[("tuple", _t)] = _tuple_ops(_t)
OPS[("dict", DSI)] = _dict_ops()
OPS[("set", SI)] = _set_ops()
OPS[("str", STR)] = _str_ops()
OPS[("float", FLOAT)] = _float_ops()
for (_family, _method), _op in _iter_ops().items():
    for _t in concrete_types(_family):
        OPS.setdefault((_family, _t), {})[_method] = _op
