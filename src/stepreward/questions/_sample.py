"""Selecting questions from a trace and rendering the prompt of a sample."""

from __future__ import annotations

import hashlib
import json
import random
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from stepreward.questions._kinds import Candidate, Context, get_kind
from stepreward.types import ANSWER_CLOSE, ANSWER_OPEN, Question, Sample, Trace

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox
    from stepreward.types import Limits

__all__ = ["DEFAULT_KINDS", "build_sample", "build_samples", "render_prompt", "sample_from_trace"]

DEFAULT_KINDS = ("output", "next_statement", "state")
FORMAT_VERSION = 1


def number_lines(source: str) -> str:
    """The source with right-aligned line numbers, as shown in prompts.

    Example:
        >>> print(number_lines("a = 1\\nb = 2"))
        1 | a = 1
        2 | b = 2
    """
    lines = source.rstrip("\n").split("\n")
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}".rstrip() for i, line in enumerate(lines, 1))


def render_prompt(source: str, call: str, questions: Sequence[Question]) -> str:
    """The prompt for a sample: numbered code, the call, the questions, the answer format."""
    parts = [
        "Below is a Python program and a call to it. Work out, step by step, what happens "
        "when the call runs, then answer the questions about that run. Do not run the code.",
        "Program:\n" + number_lines(source),
        f"Call: {call.strip()}",
        "Questions:\n" + "\n".join(f"{i}. {q.text}" for i, q in enumerate(questions, 1)),
        ("How to answer: reason first if you like. Then write exactly one answer per "
         f"question, one per line, in the order of the questions, between {ANSWER_OPEN} and "
         f"{ANSWER_CLOSE}, with no numbering and nothing else on those lines. Write values as "
         "Python literals, and statements as they appear in the program, without the line "
         "number. For example, the answers to three questions could look like this:\n"
         f"{ANSWER_OPEN}\nassert g('ab') == 'ba'\n    total += x\n[1, 2]; list\n{ANSWER_CLOSE}"),
    ]
    return "\n\n".join(parts)


def _rng(seed: int, kind: str, source: str, call: str) -> random.Random:
    # crc32, not hash(): str hashes are salted per process.
    return random.Random(zlib.crc32(f"{seed}\x00{kind}\x00{source}\x00{call}".encode()))


def _select(cands: list[Candidate], k: int, rng: random.Random) -> list[Candidate]:
    rng.shuffle(cands)
    cands.sort(key=lambda c: -c.score)  # stable: ties keep the seeded shuffle order
    chosen: list[Candidate] = []
    keys: set[tuple[object, ...]] = set()
    lines: set[object] = set()
    # First pass: at most one question per line, to spread questions over the program;
    # second pass: fill the remaining slots in the same order.
    for first_pass in (True, False):
        for c in cands:
            if len(chosen) >= k:
                break
            if c.key in keys or (first_pass and c.question.line in lines):
                continue
            chosen.append(c)
            keys.add(c.key)
            lines.add(c.question.line)
    chosen.sort(key=lambda c: (c.position, c.question.line or 0, c.question.var or ""))
    return chosen


def sample_from_trace(trace: Trace, kinds: Sequence[str] = DEFAULT_KINDS,
                      max_per_kind: int = 5, seed: int = 0) -> Sample:
    """Build a :class:`Sample` from an existing trace (see :func:`build_sample`)."""
    if isinstance(kinds, str):
        raise ValueError("kinds must be a sequence of kind names, not a string")
    if max_per_kind < 1:
        raise ValueError("max_per_kind must be at least 1")
    if "output" in kinds and "input" in kinds:
        raise ValueError("'output' and 'input' questions give away each other's answers; "
                         "build them as separate samples")
    if trace.status not in ("ok", "exception"):
        raise ValueError(f"cannot build a sample from a trace with status {trace.status!r}: "
                         f"{trace.reason}")
    ctx = Context.build(trace.source, trace.call, trace)
    questions: list[Question] = []
    for name in dict.fromkeys(kinds):
        kind = get_kind(name)
        picked = _select(kind.candidates(ctx), max_per_kind,
                         _rng(seed, name, trace.source, trace.call))
        questions.extend(c.question for c in picked)
    ident = hashlib.sha256(json.dumps(
        [FORMAT_VERSION, trace.source, trace.call, list(kinds), max_per_kind, seed]).encode()
    ).hexdigest()[:16]
    return Sample(id=ident, source=trace.source, call=trace.call, entry=ctx.entry,
                  prompt=render_prompt(trace.source, trace.call, questions),
                  questions=questions, kinds=tuple(dict.fromkeys(kinds)), seed=seed,
                  max_per_kind=max_per_kind, python=trace.python,
                  format_version=FORMAT_VERSION)


def build_sample(source: str, call: str, kinds: Sequence[str] = DEFAULT_KINDS,
                 max_per_kind: int = 5, seed: int = 0, *, sandbox: Sandbox | None = None,
                 limits: Limits | None = None) -> Sample:
    """Trace ``call`` over ``source`` and build a prompt with questions about the run.

    Questions are chosen deterministically from ``seed``, preferring informative ones
    (branch points, loop exits, jumps, calls and returns, values that changed, later
    occurrences), and never about values that have no literal form or were truncated.
    Raises ValueError when the program cannot be traced (it does not compile, times out...).

    Example:
        >>> s = build_sample("def f(x):\\n    y = x + 1\\n    return y * 2", "f(3)", seed=1)
        >>> [q.kind for q in s.questions][:2], s.questions[0].gold_text
        (['output', 'next_statement'], 'assert f(3) == 8')
    """
    from stepreward.trace._api import trace as run_trace

    t = run_trace(source, call, limits, sandbox=sandbox)
    return sample_from_trace(t, kinds, max_per_kind, seed)


def build_samples(items: Iterable[tuple[str, str]], kinds: Sequence[str] = DEFAULT_KINDS,
                  max_per_kind: int = 5, seed: int = 0, *, sandbox: Sandbox | None = None,
                  limits: Limits | None = None) -> list[Sample | None]:
    """:func:`build_sample` over many ``(source, call)`` pairs, traced concurrently.

    Item *i* uses ``seed + i``; items that cannot be traced give None.

    Example:
        >>> out = build_samples([("def f():\\n    return 1", "f()"), ("def f(:", "f()")])
        >>> [s is None for s in out]
        [False, True]
    """
    from stepreward.trace._api import trace_many

    pairs = list(items)
    traces = trace_many(pairs, limits, sandbox=sandbox)
    out: list[Sample | None] = []
    for i, t in enumerate(traces):
        try:
            out.append(sample_from_trace(t, kinds, max_per_kind, seed + i))
        except ValueError:
            out.append(None)
    return out
