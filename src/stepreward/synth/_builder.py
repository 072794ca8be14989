"""The generator's state while it writes one function: names, types, lines, scopes, literals."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from stepreward.synth._constraints import Constraints
from stepreward.synth._ops import (
    BOOL,
    DSI,
    FLOAT,
    INT,
    LI,
    LS,
    SI,
    STR,
    TI,
    TS,
    elem,
)

__all__ = ["ALPHABET", "HELPERS", "Builder", "Line", "Program"]

ALPHABET = "aeioulnrstbkmdxyz"
NAMES: dict[str, tuple[str, ...]] = {
    STR: ("text", "word", "label", "line", "name", "token", "phrase", "code", "tag", "chunk"),
    INT: ("n", "count", "total", "size", "step", "limit", "idx", "width", "offset", "acc"),
    FLOAT: ("value", "price", "ratio", "weight", "score", "amount", "rate"),
    BOOL: ("flag", "found", "ok", "matched", "valid", "is_set"),
    LI: ("nums", "values", "scores", "items", "data", "counts", "series"),
    LS: ("words", "names", "parts", "labels", "tokens", "keys_list"),
    TI: ("point", "pair", "coords", "dims", "span"),
    TS: ("fields", "columns", "tags", "pieces"),
    DSI: ("table", "stock", "inventory", "ages", "scores_by", "lookup", "tally"),
    SI: ("seen", "ids", "group", "pool", "visited", "members"),
}
HELPERS = ("normalize", "transform", "measure", "clean", "pick", "combine", "extract", "shape")


@dataclass
class Line:
    depth: int
    code: str
    target: bool = False  # this line uses the method under test


@dataclass
class Program:
    """A generated function with the inputs it is called on."""

    source: str
    entry: str
    params: list[tuple[str, str]]  # (name, type)
    constraints: Constraints
    target_lines: list[int] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)


class Builder:
    """Typed environment, fresh names and emitted lines of one function body."""

    def __init__(self, rng: random.Random, constraints: Constraints) -> None:
        self.rng = rng
        self.c = constraints
        self.env: dict[str, str] = {}
        self.lines: list[Line] = []
        self.depth = 1
        self.used: set[str] = set()
        self.pending: list[str] = []  # assigned, not yet read
        self.frozen: set[str] = set()  # may not be mutated here (loop bounds)
        self.imports: set[str] = set()
        self.counter = 0
        self._touched: set[str] = set()
        self._read: set[str] = set()
        self.chars: set[str] = set()  # variables holding one character

    # ---------------------------------------------------------------- names and values

    def fresh(self, t: str) -> str:
        pool = NAMES.get(t) or ("result", "out", "res", "tmp", "item")
        for name in self.rng.sample(pool, len(pool)):
            if name not in self.used:
                self.used.add(name)
                return name
        self.counter += 1
        name = f"{pool[0]}{self.counter}"
        self.used.add(name)
        return name

    def need(self, module: str) -> None:
        self.imports.add(module)

    def type_of(self, expr: str) -> str:
        return self.env.get(expr, STR if expr.startswith(("'", '"')) else INT)

    def vars_of(self, t: str) -> list[str]:
        return [n for n, ty in self.env.items() if ty == t]

    def read(self, name: str) -> str:
        self._read.add(name)
        if name in self.pending:
            self.pending.remove(name)
        return name

    def small_index(self) -> str:
        return str(self.rng.randint(0, 3))

    def char_lit(self) -> str:
        return repr(self.rng.choice(ALPHABET))

    def pair_lit(self) -> str:
        a = "".join(self.rng.sample(ALPHABET, 2))
        b = "".join(self.rng.sample(ALPHABET, 2))
        return f"{a!r}, {b!r}"

    def literal(self, t: str) -> str:
        r = self.rng
        if t == INT:
            return str(r.randint(2, 9))
        if t == FLOAT:
            return repr(r.choice([0.5, 1.5, 2.25, 3.75, 4.5, 7.25]))
        if t == STR:
            return repr("".join(r.choice(ALPHABET) for _ in range(r.randint(1, 3))))
        if t == BOOL:
            return r.choice(["True", "False"])
        if t in (LI, TI, SI):
            items = [str(r.randint(1, 12)) for _ in range(r.randint(2, 4))]
            inner = ", ".join(items)
            return {LI: f"[{inner}]", TI: f"({inner},)" if len(items) == 1 else f"({inner})",
                    SI: f"{{{inner}}}"}[t]
        if t in (LS, TS):
            items = [repr("".join(r.choice(ALPHABET) for _ in range(2))) for _ in range(3)]
            inner = ", ".join(items)
            return f"[{inner}]" if t == LS else f"({inner})"
        if t == DSI:
            keys = r.sample("abcxyz", 2)
            return "{" + ", ".join(f"{k!r}: {r.randint(1, 9)}" for k in keys) + "}"
        return "0"

    def value(self, t: str) -> str:
        """A variable of type ``t`` (preferring unread ones) or a literal."""
        names = self.vars_of(t)
        pending = [n for n in names if n in self.pending]
        if pending and self.rng.random() < 0.8:
            return self.read(self.rng.choice(pending))
        if names and self.rng.random() < 0.5:
            return self.read(self.rng.choice(names))
        return self.literal(t)

    def other(self, t: str, not_: str = "") -> str:
        names = [n for n in self.vars_of(t) if n != not_]
        if names and self.rng.random() < 0.6:
            return self.read(self.rng.choice(names))
        return self.literal(t)

    def two_chars(self) -> tuple[str, str]:
        a, b = self.rng.sample(ALPHABET, 2)
        return repr(a), repr(b)

    def element_of(self, t: str, r: str) -> str:
        if self.rng.random() < 0.5 and re.fullmatch(r"\w+", r):
            return f"{r}[0]" if t != SI else self.literal(INT)
        return self.value(elem(t)) if elem(t) != STR or t != STR else self.char_lit()

    def key(self, r: str) -> str:
        keys = self.vars_of(STR)
        if keys and self.rng.random() < 0.6:
            return self.read(self.rng.choice(keys))
        return repr(self.rng.choice("abcxyz"))

    def mutable(self, r: str) -> str:
        self.touch(r)
        return r

    def predicate_for(self, r: str) -> str:
        t = self.type_of(r)
        if t in (LS, TS):
            return self.rng.choice(["str.isalpha", "lambda w: len(w) > 2",
                                    "lambda w: w[0] in 'aeiou'"])
        if t == STR:
            return self.rng.choice(["str.isalpha", "lambda c: c in 'aeiou'", "str.isdigit"])
        return self.rng.choice(["lambda x: x % 2 == 0", "lambda x: x > 5",
                                "lambda x: x % 3 != 0"])

    def range_args(self, r: str) -> str:
        t = self.type_of(r)
        if t == INT:
            return self.rng.choice([f"{r}", f"1, {r}", f"0, {r}, 2"])
        return self.rng.choice([f"len({r})", f"1, len({r})", f"0, len({r}), 2"])

    # ---------------------------------------------------------------- emitting

    def emit(self, code: str, target: bool = False) -> None:
        self.lines.append(Line(self.depth, code, target))

    def enter(self) -> set[str]:
        self.depth += 1
        return set(self.env)

    def leave(self, before: set[str]) -> list[str]:
        """End a block: names bound inside it are not visible after it (maybe never bound)."""
        self.depth -= 1
        inner = [n for n in self.env if n not in before]
        for n in inner:
            del self.env[n]
            if n in self.pending:
                self.pending.remove(n)
        return inner

    def touched(self) -> set[str]:
        return self._touched

    def read_names(self) -> set[str]:
        return self._read

    def touch(self, name: str) -> None:
        """A variable was changed in place: its new value should be used."""
        self._touched.add(name)
        if name in self.env and name not in self.pending:
            self.pending.append(name)

    def assign(self, t: str, expr: str, target: bool = False) -> str:
        name = self.fresh(t)
        self.emit(f"{name} = {expr}", target)
        self.env[name] = t
        self.pending.append(name)
        return name

