"""Input synthesis by type, and mutation of a program's inputs into new test cases."""

from __future__ import annotations

import random
from typing import Any

from stepreward.synth._ops import BOOL, DSI, FLOAT, INT, LI, LS, SI, STR, TI, TS
from stepreward.values import render_literal, to_literal

__all__ = ["make_value", "mutate_value", "render_args"]

_SYLLABLES = ("ka", "lo", "mi", "ra", "tu", "ne", "so", "di", "ba", "xe", "zu", "ol", "an")
_KEYS = ("a", "b", "c", "x", "y", "z", "id", "qty", "n")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))[: rng.randint(5, 10)]


def _string(rng: random.Random) -> str:
    """Strings in the reference's ranges (5-15 characters), with structure methods can use."""
    kind = rng.random()
    if kind < 0.35:
        return _word(rng)
    if kind < 0.55:
        return " ".join(_word(rng)[:4] for _ in range(rng.randint(2, 3)))
    if kind < 0.7:
        return "".join(rng.choice("aBcDeF0123xYz") for _ in range(rng.randint(5, 10)))
    if kind < 0.8:
        return rng.choice("abxz#-") * rng.randint(5, 12)
    if kind < 0.9:
        return _word(rng).upper()
    return "".join(rng.choice("ab-c_d.e!f") for _ in range(rng.randint(5, 10)))


def make_value(t: str, rng: random.Random) -> Any:
    """A random value of a generator type, in the reference implementation's ranges.

    Example:
        >>> isinstance(make_value("list[int]", random.Random(0)), list)
        True
    """
    if t == INT:
        return rng.randint(5, 20)
    if t == FLOAT:
        return round(rng.uniform(0.5, 20.0), 2)
    if t == BOOL:
        return rng.random() < 0.5
    if t == STR:
        return _string(rng)
    n = rng.randint(5, 15)
    if t == LI:
        return [rng.randint(1, 20) for _ in range(n)]
    if t == TI:
        return tuple(rng.randint(1, 20) for _ in range(min(n, 8)))
    if t == LS:
        return [_word(rng)[: rng.randint(2, 6)] for _ in range(min(n, 8))]
    if t == TS:
        return tuple(_word(rng)[: rng.randint(2, 5)] for _ in range(min(n, 6)))
    if t == SI:
        return {rng.randint(1, 20) for _ in range(n)}
    if t == DSI:
        keys = rng.sample(_KEYS, rng.randint(5, len(_KEYS)))
        return {k: rng.randint(1, 20) for k in keys}
    raise ValueError(f"no input generator for type {t!r}")


def mutate_value(t: str, value: Any, rng: random.Random) -> Any:
    """A nearby value of the same type: an edit of the original or a fresh draw."""
    if rng.random() < 0.4:
        return make_value(t, rng)
    if t == INT:
        return max(1, int(value) + rng.choice([-3, -1, 1, 2, 5]))
    if t == FLOAT:
        return round(float(value) * rng.choice([0.5, 1.5, 2.0]) + 0.25, 2)
    if t == STR:
        s = str(value)
        i = rng.randrange(len(s) + 1)
        return (s[:i] + rng.choice("aeoxz ") + s[i:])[:15] if rng.random() < 0.5 else s[::-1]
    if t in (LI, LS):
        out = list(value)
        if out and rng.random() < 0.5:
            out.pop(rng.randrange(len(out)))
        out.insert(rng.randrange(len(out) + 1), make_value(INT if t == LI else STR, rng)
                   if t == LI else _word(rng)[:4])
        return out
    if t in (TI, TS):
        return tuple(mutate_value(LI if t == TI else LS, list(value), rng))
    if t == SI:
        out_s = set(value)
        out_s.add(rng.randint(1, 20))
        if len(out_s) > 5:
            out_s.discard(min(out_s))
        return out_s
    if t == DSI:
        out_d = dict(value)
        key = rng.choice(_KEYS)
        out_d[key] = rng.randint(1, 20)
        return out_d
    return make_value(t, rng)


def render_args(values: list[Any]) -> str:
    """Argument text for a call, in canonical literal form (stable across interpreters).

    Example:
        >>> render_args([{3, 1}, "ab"])
        "{1, 3}, 'ab'"
    """
    return ", ".join(render_literal(to_literal(v)) for v in values)
