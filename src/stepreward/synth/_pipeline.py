"""From constraints to validated, traced, deduplicated items: levels, filters, features."""

from __future__ import annotations

import ast
import hashlib
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stepreward._compat import keyword_only
from stepreward.synth._check import check_constraints
from stepreward.synth._constraints import Constraints
from stepreward.synth._gen import Program, generate_program
from stepreward.synth._inputs import make_value, mutate_value, render_args
from stepreward.synth.vocab import pairs
from stepreward.types import Trace

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["LEVELS", "Item", "SynthStats", "features", "level_constraints", "normalized_hash",
           "synthesize"]

# The six configurations of the reference, as named presets (nested calls are on in all).
LEVELS: dict[int, dict[str, Any]] = {
    1: {"nested_calls": True, "other_methods": False, "helper": False, "depth": 0},
    2: {"nested_calls": True, "other_methods": True, "helper": False, "depth": 0},
    3: {"nested_calls": True, "other_methods": True, "helper": False, "depth": 1},
    4: {"nested_calls": True, "other_methods": True, "helper": False, "depth": 2},
    5: {"nested_calls": True, "other_methods": True, "helper": False, "depth": 3},
    6: {"nested_calls": True, "other_methods": True, "helper": True, "depth": 3},
}
INPUTS_PER_PROGRAM = 4  # the original and three mutations, all traced to check coverage
ITEMS_PER_PROGRAM = 2  # the original and one mutated sibling become items, as in the reference
MAX_RESULT_REPR = 200


def level_constraints(level: int, type_: str, method: str, **overrides: Any) -> Constraints:
    """The constraints of a preset level for one method under test.

    Example:
        >>> level_constraints(4, "list", "append").depth
        2
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}, got {level!r}")
    return Constraints(type=type_, method=method, **{**LEVELS[level], **overrides})


@dataclass
class Item:
    """A validated program with one input, its trace and its structural features."""

    source: str
    call: str
    entry: str
    level: int
    constraints: Constraints
    trace: Trace
    features: dict[str, float]
    program_id: str
    index: int


@dataclass
class SynthStats:
    """Counts of what the generator produced and why candidates were rejected."""

    attempts: int = 0
    programs: int = 0
    items: int = 0
    rejects: Counter[str] = field(default_factory=Counter)


def normalized_hash(source: str) -> str:
    """Hash of the program's AST with local names replaced by position (for deduplication).

    Example:
        >>> normalized_hash("def f(a):\\n    return a") == normalized_hash("def f(b): return b")
        True
    """
    tree = ast.parse(source)
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            node.arg = names.setdefault(node.arg, f"v{len(names)}")
        elif isinstance(node, ast.Name) and node.id not in dir(__builtins__):
            node.id = names.setdefault(node.id, f"v{len(names)}")
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()[:20]


def features(source: str, trace: Trace) -> dict[str, float]:
    """Structural features of a program and its run (used to check level monotonicity)."""
    tree = ast.parse(source)
    stmts = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)
             and not isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    branches = [n for n in stmts if isinstance(n, (ast.If, ast.For, ast.While))]

    def depth(node: ast.AST, d: int = 0) -> int:
        inner = [depth(c, d + isinstance(c, (ast.If, ast.For, ast.While)))
                 for c in ast.iter_child_nodes(node)]
        return max([d, *inner])

    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    methods = {n.func.attr for n in calls if isinstance(n.func, ast.Attribute)}
    loop_lines = {n.lineno for n in stmts if isinstance(n, (ast.For, ast.While))}
    variables = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                 and isinstance(n.ctx, ast.Store)}
    return {
        "statements": float(len(stmts)),
        "nesting_depth": float(depth(tree)),
        "branch_points": float(len(branches)),
        "loop_iterations": float(sum(1 for s in trace.steps if s.line in loop_lines)),
        "trace_length": float(len(trace.steps)),
        "variables": float(len(variables)),
        "calls": float(len(calls)),
        "methods": float(len(methods)),
        "functions": float(sum(isinstance(n, ast.FunctionDef) for n in ast.walk(tree))),
    }


def _statement_lines(source: str) -> set[int]:
    tree = ast.parse(source)
    return {n.lineno for n in ast.walk(tree) if isinstance(n, ast.stmt)
            and not isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom))}


def _check(program: Program, traces: list[Trace]) -> str | None:
    """Why a program and its traced inputs are rejected, or None."""
    first = traces[0]
    raised_ok = first.status == "exception" and program.constraints.allow_exceptions
    if first.status == "exception" and not raised_ok:
        return "raises"
    if first.status not in ("ok", "exception"):
        return f"trace {first.status}"
    if first.truncated:
        return "too many steps"
    if not raised_ok and (first.result is None or not first.result.askable
                          or len(first.result.repr) > MAX_RESULT_REPR):
        return "result not a bounded literal"
    if not set(program.target_lines) & first.executed_lines:
        return "method under test not executed"
    covered: set[int] = set()
    for t in traces:
        if t.status in ("ok", "exception") and not t.truncated:
            covered |= t.executed_lines
    if not _statement_lines(program.source) <= covered:
        return "dead code"
    if len(first.steps) < 2:
        return "trivial"
    return None


@keyword_only("seed")
def synthesize(n: int, levels: Sequence[int] = (1, 2, 3, 4, 5, 6), *, seed: int = 0,
               sandbox: Sandbox | None = None, batch: int = 64,
               max_attempts_per_item: int = 30, stats: SynthStats | None = None,
               constraint_overrides: dict[str, Any] | None = None) -> Iterator[Item]:
    """Generate ``n`` validated items, cycling over levels and the (type, method) vocabulary.

    Attempt *i* draws from ``Random(seed + i)``, so the same seed gives the same items.
    Each program is traced on its input and two mutations (in the sandbox); it is kept only
    when the first run returns a bounded literal, the method under test runs, every statement
    runs for at least one input, and it is not a duplicate (normalised AST); each input that
    also passes gives an item.

    Example:
        >>> items = list(synthesize(2, levels=[3], seed=1))
        >>> [it.level for it in items]
        [3, 3]
    """
    from stepreward.trace._api import default_sandbox, trace_many

    if n < 0:
        raise ValueError("n must be >= 0")
    if not levels or any(lv not in LEVELS for lv in levels):
        raise ValueError(f"levels must be a non-empty subset of {sorted(LEVELS)}")
    sb = sandbox or default_sandbox()
    st = stats if stats is not None else SynthStats()
    vocab = pairs()
    seen_programs: set[str] = set()
    seen_cases: set[tuple[str, str]] = set()
    produced = 0
    attempt = 0
    limit = max(n, 1) * max_attempts_per_item
    # Levels get equal shares: each attempt goes to a level that still needs items.
    quota = -(-n // len(levels))
    per_level: Counter[int] = Counter()
    # A pair is retried (with fresh randomness) until it yields a program or fails 8 times,
    # so every (type, method) gets its turn.
    cursor = 0
    failures = 0
    while produced < n and attempt < limit:
        pending: list[tuple[int, int, Program, list[str]]] = []
        open_levels = [lv for lv in levels if per_level[lv] < quota] or list(levels)
        while len(pending) < batch and attempt < limit:
            i = attempt
            attempt += 1
            st.attempts += 1
            rng = random.Random(seed + i)
            level = open_levels[cursor % len(open_levels)]
            type_, method = vocab[(cursor // len(levels)) % len(vocab)]
            c = level_constraints(level, type_, method, **(constraint_overrides or {}))
            program = generate_program(c, rng)
            why = None
            if program is None:
                why = "constraints not satisfiable in this draw"
            else:
                report = check_constraints(program.source, c, program.entry)
                if not all(report.values()):
                    why = ("constraint not met ("
                           + ", ".join(k for k, ok in report.items() if not ok) + ")")
            if why is not None or program is None:
                st.rejects[why or "no program"] += 1
                failures += 1
                if failures >= 8:
                    cursor, failures = cursor + 1, 0
                continue
            cursor, failures = cursor + 1, 0
            key = normalized_hash(program.source)
            if key in seen_programs:
                st.rejects["duplicate program"] += 1
                continue
            seen_programs.add(key)
            values = [make_value(t, rng) for _, t in program.params]
            calls = [f"{program.entry}({render_args(values)})"]
            for _ in range(INPUTS_PER_PROGRAM - 1):
                mutated = [mutate_value(t, v, rng) for (_, t), v in zip(program.params, values,
                                                                          strict=True)]
                calls.append(f"{program.entry}({render_args(mutated)})")
            pending.append((i, level, program, calls))
        if not pending:
            continue
        # Stage 1: the original input and its first mutation. Most programs are fully
        # covered by these; only the others pay for the remaining mutations (stage 2).
        first = trace_many([(p.source, calls[j]) for _, _, p, calls in pending for j in (0, 1)],
                           sandbox=sb, max_steps=2000)
        traced: list[list[Trace]] = [first[2 * k:2 * k + 2] for k in range(len(pending))]
        more = [k for k, (_, _, p, _) in enumerate(pending)
                if _check(p, traced[k]) == "dead code"]
        if more:
            extra = trace_many([(pending[k][2].source, call) for k in more
                                for call in pending[k][3][2:]], sandbox=sb, max_steps=2000)
            width = INPUTS_PER_PROGRAM - 2
            for m, k in enumerate(more):
                traced[k] = traced[k] + extra[m * width:(m + 1) * width]
        for k, (i, level, program, all_calls) in enumerate(pending):
            c = program.constraints
            ts = traced[k]
            calls = all_calls[:len(ts)]
            why = _check(program, ts)
            if why is not None:
                st.rejects[why] += 1
                continue
            st.programs += 1
            pid = normalized_hash(program.source)
            taken = 0
            for call, t in zip(calls, ts, strict=True):
                if produced >= n or taken >= ITEMS_PER_PROGRAM:
                    break
                allowed = c.allow_exceptions and t.status == "exception"
                if t is not ts[0] and not allowed and (
                        t.status != "ok" or t.truncated or t.result is None
                        or not t.result.askable):
                    st.rejects["mutated input fails"] += 1
                    continue
                if (pid, call) in seen_cases:
                    st.rejects["duplicate input"] += 1
                    continue
                if per_level[level] >= quota and any(per_level[lv] < quota for lv in levels):
                    st.rejects["level already full"] += 1
                    continue
                seen_cases.add((pid, call))
                per_level[level] += 1
                produced += 1
                taken += 1
                st.items += 1
                yield Item(source=program.source, call=call, entry=program.entry, level=level,
                           constraints=program.constraints, trace=t,
                           features=features(program.source, t), program_id=pid, index=i)
