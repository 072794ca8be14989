"""Composing a function body: uses of the method under test, other methods, control flow."""

from __future__ import annotations

import ast
import re

from stepreward.synth._builder import Builder
from stepreward.synth._ops import (
    BOOL,
    DSI,
    FLOAT,
    INT,
    LI,
    LS,
    OPS,
    SI,
    STR,
    TI,
    TS,
    Use,
    elem,
)

__all__ = ["Composer", "block"]

def _wrap(code: str) -> str:
    try:
        node = ast.parse(code, mode="eval").body
    except SyntaxError:
        return f"({code})"
    return code if isinstance(node, (ast.Call, ast.Attribute, ast.Subscript, ast.Name,
                                     ast.Constant, ast.List, ast.Tuple, ast.Dict,
                                     ast.Set)) else f"({code})"


class Composer:
    """Turns a constraint spec into a function body, one piece at a time."""

    def __init__(self, b: Builder, family: str, rtype: str) -> None:
        self.b = b
        self.family = family
        self.rtype = rtype
        self.ops = OPS[(family, rtype)]
        self.target = b.c.method
        self.target_uses = 0

    # ---------------------------------------------------------------- the method under test

    def op(self, name: str, recv: str) -> Use | None:
        fn = self.ops.get(name)
        return fn(self.b, recv) if fn else None

    def receiver(self) -> str | None:
        names = [n for n in self.b.vars_of(self.rtype) if n not in self.b.frozen]
        if not names:
            return None
        pending = [n for n in names if n in self.b.pending]
        return self.b.read(self.b.rng.choice(pending or names))

    def use_target(self, nested: bool) -> bool:
        """Emit one use of the method under test; False when no receiver is available."""
        b = self.b
        recv = self.receiver()
        if recv is None:
            return False
        use = self.op(self.target, recv)
        if use is None:
            return False
        if use.rtype is None:
            self._emit_guarded(use, target=True)
            if nested and b.c.nested_calls:
                again = self.op(self.target, recv)
                if again is not None and again.rtype is None:
                    self._emit_guarded(again, target=True)
                    self.target_uses += 1
            self.target_uses += 1
            return True
        code = use.code
        if nested and b.c.nested_calls:
            code = self._nest(use)
        self._emit_value(Use(code, use.rtype, use.guard), target=True)
        self.target_uses += 1 + (code != use.code)
        return True

    def _nest(self, use: Use) -> str:
        """Put a call inside another: chain the method, or wrap its value in a call."""
        b = self.b
        if use.rtype == self.rtype and use.guard is None:
            again = self.op(self.target, _wrap(use.code))
            if again is not None and again.guard is None and again.rtype == self.rtype:
                return again.code
        if use.rtype == INT:
            return b.rng.choice([f"abs({use.code})", f"max({use.code}, {b.literal(INT)})",
                                 f"min({use.code}, {b.literal(INT)} * 3)"])
        if use.rtype == FLOAT:
            return f"round({use.code}, 2)"
        if use.rtype == BOOL:
            return f"int({use.code})"
        if use.rtype in (LI, LS):
            return f"sorted({use.code})"
        if use.rtype in (STR,):
            return f"str({use.code}).strip()"
        if use.rtype in ("tuple", "list[tuple]") and not use.code.startswith(("list(", "sorted(")):
            return f"list({use.code})"
        return f"len({use.code})" if use.rtype in ("tuple", "list[tuple]") else use.code

    def _emit_guarded(self, use: Use, target: bool) -> None:
        b = self.b
        # A guard is an `if`: only where it cannot exceed the spec's nesting depth.
        if use.guard and b.depth == 1 and b.c.depth >= 1:
            b.emit(f"if {use.guard}:", target)
            b.depth += 1
            b.emit(use.code, target)
            b.depth -= 1
        else:
            b.emit(use.code, target)

    def _emit_value(self, use: Use, target: bool) -> None:
        b = self.b
        assert use.rtype is not None
        rtype = {"int()": INT}.get(use.rtype, use.rtype)
        if use.guard:
            fallback = b.literal(rtype) if rtype in (INT, STR, BOOL, FLOAT) else "None"
            b.assign(rtype, f"{use.code} if {use.guard} else {fallback}", target)
        else:
            b.assign(rtype, use.code, target)

    # ---------------------------------------------------------------- other methods

    def use_other(self, idiom_ok: bool = True, methods_only: bool = False) -> None:
        b = self.b
        if idiom_ok and b.rng.random() < 0.5 and self._idiom():
            return
        choices = []
        for (family, rtype), ops in OPS.items():
            if family in ("enumerate", "filter", "range", "zip", "reverse"):
                continue
            recvs = [n for n in b.vars_of(rtype) if n not in b.frozen]
            if recvs:
                for name, fn in ops.items():
                    if (family, name) == (self.family, self.target):
                        continue
                    if methods_only and not name.isidentifier():
                        continue
                    choices.append((recvs, name, fn))
        if not choices:
            return
        recvs, _name, fn = b.rng.choice(choices)
        use = fn(b, b.read(b.rng.choice(recvs)))
        if use is None:
            return
        if use.rtype is None:
            self._emit_guarded(use, target=False)
        else:
            self._emit_value(use, target=False)


    def _idiom(self) -> bool:
        """An idiomatic one-liner (comprehension, f-string, sorted with a key, ...)."""
        b = self.b
        rng = b.rng
        options: list[tuple[str, str, str]] = []  # (source var, result type, expression)
        for v in b.vars_of(LI):
            options += [(v, LI, f"[x for x in {v} if x % 2 == 0]"),
                        (v, INT, f"sum(x * x for x in {v})"),
                        (v, LI, f"sorted({v}, reverse=True)[:3]"),
                        (v, DSI, f"{{str(i): x for i, x in enumerate({v}[:4])}}")]
        for v in b.vars_of(LS):
            options += [(v, DSI, f"{{w: len(w) for w in {v}}}"),
                        (v, STR, f"'-'.join(sorted({v}, key=len))"),
                        (v, LS, f"[w.upper() for w in {v} if len(w) > 2]")]
        for v in b.vars_of(STR):
            options += [(v, LS, f"[c for c in {v} if c.isalpha()]"),
                        (v, STR, f"f'{{{v}[:3]}}-{{len({v})}}'"),
                        (v, INT, f"sum(1 for c in {v} if c in 'aeiou')"),
                        (v, STR, f"''.join(sorted(set({v})))")]
        for v in b.vars_of(DSI):
            options += [(v, LS, f"[k for k, n in {v}.items() if n > 5]"),
                        (v, INT, f"sum({v}.values())"),
                        (v, LS, f"sorted({v}, key={v}.get)")]
        for v in b.vars_of(SI):
            options += [(v, SI, f"{{x * 2 for x in {v}}}"),
                        (v, LI, f"sorted(x for x in {v} if x < 10)")]
        for v in b.vars_of(INT):
            options.append((v, LI, f"[{v} % k for k in range(2, 5)]"))
        if not options:
            return False
        pending = [o for o in options if o[0] in b.pending]
        src, rtype, expr = rng.choice(pending or options)
        b.read(src)
        b.assign(rtype, expr)
        return True


# ------------------------------------------------------------------------- control flow


def _condition(b: Builder, comp: Composer, avoid: set[str]) -> str:
    """A condition on values that depend on the input (never on a fresh accumulator)."""
    rng = b.rng
    bool_target = comp.ops.get(comp.target)
    if bool_target is not None and rng.random() < 0.6:
        recv = comp.receiver()
        if recv is not None:
            use = bool_target(b, recv)
            if use is not None and use.rtype == BOOL and use.guard is None \
                    and use.code not in avoid:
                comp.target_uses += 1
                return use.code
    options = []
    for x in b.vars_of(INT):
        if x not in b.frozen:
            options += [f"{x} % 2 == 0", f"{x} > {rng.randint(6, 12)}", f"{x} % 3 != 1"]
    for x in b.vars_of(STR):
        if x in b.frozen:
            continue
        if x in b.chars:
            options += [f"{x} in 'aeiou'", f"{x}.isalpha()", f"{x} > 'm'"]
        else:
            options += [f"len({x}) > {rng.randint(5, 8)}", f"{x}.isalpha()",
                        f"{b.char_lit()} in {x}"]
    for x in b.vars_of(FLOAT):
        options.append(f"{x} > {rng.randint(5, 12)}")
    for t in (LI, LS, SI, DSI, TI, TS):
        for v in b.vars_of(t):
            if v not in b.frozen:
                options.append(f"len({v}) > {rng.randint(6, 10)}")
                if t in (LI, TI, SI):
                    options.append(f"{rng.randint(5, 15)} in {v}")
    options = [o for o in options if o not in avoid]
    if not options:
        return "True"
    cond = rng.choice(options)
    for name in re.findall(r"[A-Za-z_]\w*", cond):
        if name in b.env:
            b.read(name)
    return cond


def _loop_source(b: Builder, outer: bool) -> tuple[str, str | None,
                                                    list[tuple[str, str]]] | None:
    """An iterable, the variable it iterates (frozen in the body), and the bound names."""
    rng = b.rng
    cands: list[tuple[str, str | None, list[tuple[str, str]]]] = []
    for t in (LI, LS, TI, TS, STR):
        for v in b.vars_of(t):
            if v in b.frozen:
                continue
            var = {INT: rng.choice(["x", "num", "val"]), STR: rng.choice(
                ["ch", "c", "w", "part"] if t == STR else ["w", "item", "s", "part"])}[elem(t)]
            if var in b.env:
                continue
            it = v if outer else f"{v}[:{rng.randint(2, 3)}]"
            cands.append((it, v, [(var, elem(t))]))
            if outer and rng.random() < 0.4:
                i = rng.choice(["i", "pos", "k"])
                if i not in b.env:
                    cands.append((f"enumerate({v})", v, [(i, INT), (var, elem(t))]))
    for v in b.vars_of(DSI):
        if "key" not in b.env:
            cands.append((f"sorted({v})", v, [("key", STR)]))
    for v in b.vars_of(SI):
        if "member" not in b.env:
            cands.append((f"sorted({v})", v, [("member", INT)]))
    if "j" not in b.env and not cands:
        cands.append((f"range({rng.randint(2, 4)})", None, [("j", INT)]))
    if not cands:
        return None
    return rng.choice(cands)


def _accumulate(b: Builder, acc: str, acc_t: str, names: list[str]) -> None:
    """Fold one value into the accumulator, preferring values computed in this block."""
    rng = b.rng
    pending = [n for n in names if n in b.pending]
    usable = [n for n in (pending or names) if b.env.get(n) in (INT, STR, FLOAT, BOOL, LI,
                                                                   LS, SI, DSI, TI, TS)]
    if not usable:
        usable = [n for n in b.env if n != acc and b.env[n] in (INT, STR, LI, LS)]
    v = rng.choice(usable) if usable else b.literal(INT)
    vt = b.env.get(v, INT)
    if v in b.env:
        b.read(v)
    as_int = v if vt in (INT, BOOL) else (f"int({v})" if vt == FLOAT else f"len({v})")
    as_str = v if vt == STR else f"str({v})"
    if acc_t == LI:
        b.emit(f"{acc}.append({as_int}{' * 2' if rng.random() < 0.3 else ''})")
    elif acc_t == INT:
        b.emit(f"{acc} {rng.choice(['+=', '+=', '-='])} {as_int}")
    elif acc_t == STR:
        b.emit(f"{acc} += {as_str}")
    elif acc_t == DSI:
        key = v if vt == STR else f"str({as_int} % 3)"
        b.emit(f"{acc}[{key}] = {acc}.get({key}, 0) + 1")
    elif acc_t == SI:
        b.emit(f"{acc}.add({as_int})")


def _body(b: Builder, comp: Composer, acc: str, acc_t: str, scope: list[str]) -> None:
    """The innermost statements: maybe the method under test, then the accumulation."""
    before = set(b.env)
    if comp.target_uses < 4 and b.rng.random() < 0.7:
        comp.use_target(nested=False)
    local = [n for n in b.env if n not in before]
    # A value computed here must feed the accumulator, or it would be dead code.
    _accumulate(b, acc, acc_t, local or scope)


def block(b: Builder, comp: Composer, seq: list[str], acc: str, acc_t: str,
           scope: list[str], outer: bool) -> None:
    if not seq:
        _body(b, comp, acc, acc_t, scope)
        return
    kind, rest = seq[0], seq[1:]
    if kind == "for":
        src = _loop_source(b, outer)
        if src is not None:
            it, frozen, binds = src
            b.emit(f"for {', '.join(n for n, _ in binds)} in {it}:")
            if frozen:
                b.read(frozen)
            before = b.enter()
            was_frozen = frozen in b.frozen if frozen else True
            if frozen:
                b.frozen.add(frozen)  # never mutate what is being iterated
            for n, t in binds:
                b.env[n] = t
                b.used.add(n)
                if t == STR and it.startswith(tuple(b.vars_of(STR))) and \
                        b.env.get(frozen or "") == STR:
                    b.chars.add(n)
            block(b, comp, rest, acc, acc_t, scope + [n for n, _ in binds], outer=False)
            if frozen and not was_frozen:
                b.frozen.discard(frozen)
            for n, _ in binds:
                b.chars.discard(n)
            b.leave(before)
            return
        kind = "while"
    if kind == "while":
        bound = b.rng.randint(3, 5) if outer else 2
        counter = b.fresh(INT)
        b.emit(f"{counter} = 0")
        b.emit(f"while {counter} < {bound}:")
        before = b.enter()
        b.env[counter] = INT
        b.frozen.add(counter)  # only the final increment changes it: the loop ends
        block(b, comp, rest, acc, acc_t, [*scope, counter], outer=False)
        b.emit(f"{counter} += 1")
        b.frozen.discard(counter)
        b.leave(before | {counter})
        b.env.pop(counter, None)
        return
    first = _condition(b, comp, set())
    b.emit(f"if {first}:")
    before = b.enter()
    block(b, comp, rest, acc, acc_t, scope, outer)
    b.leave(before)
    if kind == "if-elif":
        b.emit(f"elif {_condition(b, comp, {first})}:")
        before = b.enter()
        _body(b, comp, acc, acc_t, scope)
        b.leave(before)
    if kind == "if-elif" or b.rng.random() < 0.5:
        b.emit("else:")
        before = b.enter()
        _accumulate(b, acc, acc_t, scope)
        b.leave(before)


