"""The typed program generator: composes small functions that satisfy a constraint spec."""

from __future__ import annotations

import random
import re

from stepreward.synth._builder import HELPERS, Builder, Line, Program
from stepreward.synth._compose import Composer, block
from stepreward.synth._constraints import Constraints
from stepreward.synth._ops import (
    DSI,
    FLOAT,
    INT,
    LI,
    LS,
    OPS,
    SI,
    STR,
    concrete_types,
)

__all__ = ["Program", "generate_program"]

# ------------------------------------------------------------------------- the function


def _params(b: Builder, family: str, rtype: str, n: int) -> list[tuple[str, str]]:
    main = b.fresh(rtype)
    params = [(main, rtype)]
    extra_types = [INT, STR, LI, FLOAT, LS]
    if family == "dict":
        extra_types = [STR, INT]  # a key to look up
    for _ in range(n - 1):
        t = b.rng.choice(extra_types)
        params.append((b.fresh(t), t))
    for name, t in params:
        b.env[name] = t
        b.pending.append(name)
    return params


_ASSIGNED = re.compile(r"^([A-Za-z_]\w*) = ")


def _prune(lines: list[Line]) -> list[Line]:
    """Drop assignments whose variable is never read afterwards (no dead code)."""
    changed = True
    while changed:
        changed = False
        for idx, ln in enumerate(lines):
            m = _ASSIGNED.match(ln.code)
            if not m or ln.target:
                continue
            name = m.group(1)
            pattern = re.compile(rf"\b{re.escape(name)}\b")
            later = lines[idx + 1:]
            reads = any(pattern.search(x.code) for x in later)
            # `name = ...` followed only by other writes to name is dead as well.
            header_before = idx > 0 and lines[idx - 1].code.endswith(":") and \
                lines[idx - 1].depth == ln.depth - 1
            body_after = idx + 1 < len(lines) and lines[idx + 1].depth >= ln.depth
            if not reads and (not header_before or body_after):
                del lines[idx]
                changed = True
                break
    return lines


def _render(lines: list[Line], header: str) -> tuple[list[str], list[int]]:
    lines = _prune(list(lines))
    out = [header]
    targets = []
    for ln in lines:
        out.append("    " * ln.depth + ln.code)
        if ln.target:
            targets.append(len(out))
    return out, targets


def generate_program(constraints: Constraints, rng: random.Random,
                     entry: str = "f") -> Program | None:
    """Build one function for ``constraints``; None when this draw cannot satisfy them."""
    c = constraints
    family = c.type
    rtype = rng.choice(concrete_types(family))
    if (family, rtype) not in OPS or c.method not in OPS[(family, rtype)]:
        return None
    b = Builder(rng, c)
    b.used.update({entry, "key", "member", "j", "i", "pos", "k", "x", "num", "val", "ch", "c",
                   "w", "part", "item", "s"})
    helper_name = rng.choice(HELPERS) if c.helper else None
    if helper_name:
        b.used.add(helper_name)
    params = _params(b, family, rtype, c.params)
    comp = Composer(b, family, rtype)
    blueprint: list[str] = list(c.blueprint) or [
        rng.choice(["if", "for", "while", "if-elif"]) for _ in range(c.depth)]
    # 1. the method under test, unconditionally, nested.
    if not comp.use_target(nested=True):
        return None
    if c.other_methods:
        comp.use_other(idiom_ok=False, methods_only=True)  # at least one other method call
        if rng.random() < 0.6:
            comp.use_other()
    if c.nested_calls and comp.target_uses < 2:
        comp.use_target(nested=False)
    # 2. control flow around an accumulator.
    acc: str | None = None
    if blueprint:
        acc_t = rng.choice([LI, INT, STR, DSI, SI])
        acc = b.fresh(acc_t)
        b.emit(f"{acc} = {({LI: '[]', INT: '0', STR: repr(''), DSI: '{}', SI: 'set()'})[acc_t]}")
        b.frozen.add(acc)
        block(b, comp, blueprint, acc, acc_t, [], outer=True)
        b.frozen.discard(acc)
        b.env[acc] = acc_t
    # 3. return what was computed: the accumulator and values not used since.
    param_names = {n for n, _ in params}
    results = [n for n in b.pending if n not in param_names or n in b.touched()]
    if acc is not None:
        results = [acc, *[r for r in results if r != acc]]
    if not results:
        return None
    ret = results[:3]
    b.emit(f"return {', '.join(ret)}" if len(ret) > 1 else f"return {ret[0]}")
    params = [(n, t) for n, t in params if n in b.read_names() or n in ret]
    if helper_name:
        return _with_helper(b, c, entry, helper_name, params, rng)
    header = f"def {entry}({', '.join(n for n, _ in params)}):"
    lines, targets = _render(b.lines, header)
    return _finish(b, c, entry, params, lines, targets)


def _finish(b: Builder, c: Constraints, entry: str, params: list[tuple[str, str]],
            lines: list[str], targets: list[int]) -> Program | None:
    if len(lines) > c.max_lines + 1 or not targets or not params:
        return None
    imports = sorted(b.imports)
    prelude = [f"import {m}" for m in imports] + ([""] if imports else [])
    offset = len(prelude)
    return Program(source="\n".join(prelude + lines) + "\n", entry=entry, params=params,
                   constraints=c, target_lines=[t + offset for t in targets], imports=imports)


def _with_helper(b: Builder, c: Constraints, entry: str, helper: str,
                 params: list[tuple[str, str]], rng: random.Random) -> Program | None:
    """Move the body into a helper that the entry point calls and builds on."""
    names = [n for n, _ in params]
    args = ", ".join(names)
    helper_lines, targets = _render(b.lines, f"def {helper}({args}):")
    style = rng.randrange(3)
    if style == 0:
        body = [f"def {entry}({args}):", f"    out = {helper}({args})",
                "    return out, len(str(out))"]
    elif style == 1 and len(names) > 1:
        body = [f"def {entry}({args}):", f"    first = {helper}({args})",
                f"    second = {helper}({args})", "    return first == second, first"]
    else:
        body = [f"def {entry}({args}):", f"    result = {helper}({args})", "    return result"]
    lines = [*helper_lines, "", *body]
    return _finish(b, c.model_copy(update={"max_lines": c.max_lines + 5}), entry, params, lines,
                   targets)
