"""Selecting questions from a trace and rendering the prompt of a sample."""

from __future__ import annotations

import hashlib
import json
import random
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from stepreward._compat import keyword_only
from stepreward.questions._kinds import DEFAULT_KINDS, Candidate, Context, get_kind
from stepreward.types import ANSWER_CLOSE, ANSWER_OPEN, Question, Sample, Trace

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox
    from stepreward.types import Limits

__all__ = ["DEFAULT_KINDS", "IncompleteRuns", "NondeterminismCheck", "build_sample",
           "build_samples", "check_kinds", "render_prompt", "sample_from_trace", "shown_call",
           "split_kinds"]

#: What to do with a run that did not return normally (it raised, or hit the step cap):
#: ``"raise"`` a ValueError that says why (the default), or ``"keep"`` it and ask only about
#: the steps that ran (no output question; the step that raised is followed by ``-1``).
IncompleteRuns = Literal["raise", "keep"]
#: ``"check"`` traces the call twice and refuses programs whose two runs differ (random
#: numbers, clocks, ...), whose gold answers would be one draw among many; ``"skip"`` trusts
#: the program and traces it once.
NondeterminismCheck = Literal["check", "skip"]

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


def split_kinds(kinds: Sequence[str]) -> list[tuple[str, ...]]:
    """``kinds`` split into the groups that may share one sample, in order of first mention.

    A kind whose prompt hides the call (``hides_call``: ``input``, which asks for the call's
    arguments) stands alone; every other kind is about the run of that call and shows it (an
    ``output`` question names it), so they share a sample.

    Example:
        >>> split_kinds(("output", "input", "next_statement", "state"))
        [('output', 'next_statement', 'state'), ('input',)]
    """
    if isinstance(kinds, str):
        raise ValueError("kinds must be a sequence of kind names, not a string")
    names = list(dict.fromkeys(kinds))
    shown = tuple(k for k in names if not get_kind(k).hides_call)
    return [(k,) if get_kind(k).hides_call else shown
            for k in names if get_kind(k).hides_call or k == shown[0]]


def check_kinds(kinds: Sequence[str]) -> None:
    """Raise ValueError, saying why and what to do, when ``kinds`` cannot share one sample.

    Example:
        >>> check_kinds(("output", "state"))
        >>> check_kinds(("input", "state"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: an 'input' question cannot share a sample with state questions: ...
    """
    if isinstance(kinds, str):
        raise ValueError("kinds must be a sequence of kind names, not a string")
    names = list(dict.fromkeys(kinds))
    for name in names:
        others = [k for k in names if k != name]
        if get_kind(name).hides_call and others:
            article = "an" if name[0] in "aeiou" else "a"
            raise ValueError(
                f"{article} {name!r} question cannot share a sample with {', '.join(others)} "
                "questions: its prompt hides the call, which the other kinds need (an "
                "'output' question would also give away an input's answer). Build one sample "
                "per group of stepreward.questions.split_kinds(kinds): "
                f"{split_kinds(kinds)}")


def shown_call(call: str, questions: Sequence[Question]) -> str:
    """The call as a prompt shows it: as written, or ``f(??)`` when a question asks for its
    arguments (the prompt of an input question never holds them).

    Example:
        >>> from stepreward.types import Question
        >>> q = Question(kind="input", text="", info={"entry": "f", "output": 3})
        >>> shown_call("f(1, 2)", [q]), shown_call("f(1, 2)", [])
        ('f(??)', 'f(1, 2)')
    """
    asked = [q for q in questions if get_kind(q.kind).hides_call]
    if not asked:
        return call.strip()
    check_kinds([q.kind for q in questions])
    return f"{asked[0].info.get('entry') or 'f'}(??)"


def render_prompt(source: str, call: str, questions: Sequence[Question]) -> str:
    """The prompt for a sample: numbered code, the call, the questions, the answer format.

    For an input question the call shows as ``f(??)``: the prompt holds the program and the
    value the call returns, never the arguments it asks for. An input question with questions
    of other kinds is a ValueError (they need the call; see :func:`split_kinds`).

    Example:
        >>> from stepreward.types import Question
        >>> q = Question(kind="input", text="assert f(??) == 3", info={"entry": "f"})
        >>> "Call: f(??)" in render_prompt("def f(a, b):\\n    return a + b", "f(1, 2)", [q])
        True
    """
    hidden = any(get_kind(q.kind).hides_call for q in questions)
    intro = ("Below is a Python program and a call to it whose arguments are hidden. Work "
             "out, step by step, which arguments make the call return the value the question "
             "gives, then answer the question. Do not run the code." if hidden else
             "Below is a Python program and a call to it. Work out, step by step, what happens "
             "when the call runs, then answer the questions about that run. Do not run the "
             "code.")
    parts = [
        intro,
        "Program:\n" + number_lines(source),
        f"Call: {shown_call(call, questions)}",
        "Questions:\n" + "\n".join(f"{i}. {q.text}" for i, q in enumerate(questions, 1)),
        ("How to answer: reason first if you like. Then write exactly one answer per "
         f"question, one per line, in the order of the questions, between {ANSWER_OPEN} and "
         f"{ANSWER_CLOSE}, with no numbering and nothing else on those lines. Write values as "
         "Python literals, and statements as they appear in the program, without the line "
         f"number. {example_answer(questions)}"),
    ]
    return "\n\n".join(parts)


_COUNTS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def example_answer(questions: Sequence[Question]) -> str:
    """The prompt's example of an answer block: one made-up line per question, in the form of
    each question's kind, so that its line count is the prompt's question count (a model that
    copies the example's shape writes as many lines as there are questions).

    Example:
        >>> from stepreward.types import Question
        >>> print(example_answer([Question(kind="state", text="?")]))
        For example, the answer to one question of this kind could look like this:
        <answer>
        [1, 2]; list
        </answer>
    """
    used: dict[str, int] = {}
    lines = []
    for q in questions:
        pool = get_kind(q.kind).examples or ("7",)
        i = used.get(q.kind, 0)
        used[q.kind] = i + 1
        lines.append(pool[i % len(pool)])
    n = len(questions)
    count = _COUNTS[n - 1] if 0 < n <= len(_COUNTS) else str(n)
    what = (f"the answer to {count} question of this kind" if n == 1 else
            f"the answers to {count} questions of these kinds")
    body = "\n".join(lines)
    return f"For example, {what} could look like this:\n{ANSWER_OPEN}\n{body}\n{ANSWER_CLOSE}"


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


@keyword_only("seed")
def sample_from_trace(trace: Trace, kinds: Sequence[str] = DEFAULT_KINDS,
                      max_per_kind: int = 5, *, seed: int = 0,
                      on_incomplete: IncompleteRuns = "raise") -> Sample:
    """Build a :class:`Sample` from an existing trace (see :func:`build_sample`).

    Unlike :func:`build_sample`, a selection that finds no question (say, ``("input",)`` on a
    result that has no literal form) returns a sample with no questions, so that dataset
    builders can fall back to other kinds.

    Example:
        >>> from stepreward.trace import trace
        >>> s = sample_from_trace(trace("def f(x):\\n    return x * 2", "f(4)"), ("output",))
        >>> s.questions[0].gold_text
        'assert f(4) == 8'
    """
    if isinstance(kinds, str):
        raise ValueError("kinds must be a sequence of kind names, not a string")
    if max_per_kind < 1:
        raise ValueError("max_per_kind must be at least 1")
    if on_incomplete not in ("raise", "keep"):
        raise ValueError(f"on_incomplete must be 'raise' or 'keep', not {on_incomplete!r}")
    check_kinds(kinds)
    if trace.status not in ("ok", "exception"):
        raise ValueError(f"cannot build a sample from a trace with status {trace.status!r}: "
                         f"{trace.reason}")
    if trace.status == "exception" and (on_incomplete == "raise" or not trace.steps):
        raise ValueError(_exception_message(trace))
    if trace.truncated and on_incomplete == "raise":
        raise ValueError(f"the call did not finish: {trace.truncated_reason or 'step cap'} "
                         "(an endless loop?); questions about it would have no final answer. "
                         "Pass on_incomplete='keep' to ask about the steps it took")
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


def _exception_message(trace: Trace) -> str:
    exc = trace.exception
    what = f"{exc.type}: {exc.message}" if exc else "an exception"
    if not trace.steps:
        return (f"the call raised {what} before any line of the program ran; check that the "
                "call names a function the program defines, with valid arguments")
    where = f" at line {exc.line}" if exc and exc.line else ""
    return (f"the call raised {what}{where}, so it has no output; pass "
            "on_incomplete='keep' to ask about the steps that ran before it")


def _first_difference(a: Trace, b: Trace) -> str | None:
    if a.status != b.status or a.truncated != b.truncated:
        return "how it ends"
    for i, (x, y) in enumerate(zip(a.steps, b.steps, strict=False)):
        if x != y:
            return f"step {i + 1} (line {x.line})"
    if len(a.steps) != len(b.steps):
        return f"step {min(len(a.steps), len(b.steps)) + 1}"
    if a.result != b.result or a.exception != b.exception:
        return "its result"
    return None  # printed text differing alone changes no gold answer


def _check_same(first: Trace, second: Trace) -> None:
    where = _first_difference(first, second)
    if where is not None:
        raise ValueError(f"the program is not deterministic: two runs of the same call differ "
                         f"in {where} (random numbers, clocks, ...?), so its questions would "
                         "have no single gold answer. Seed or remove the source of chance, or "
                         "pass determinism='skip' to accept it")


@keyword_only("seed")
def build_sample(source: str, call: str, kinds: Sequence[str] = DEFAULT_KINDS,
                 max_per_kind: int = 5, *, seed: int = 0, sandbox: Sandbox | None = None,
                 limits: Limits | None = None, on_incomplete: IncompleteRuns = "raise",
                 determinism: NondeterminismCheck = "check") -> Sample:
    """Trace ``call`` over ``source`` and build a prompt with questions about the run.

    Questions are chosen deterministically from ``seed``, preferring informative ones
    (branch points, loop exits, jumps, calls and returns, values that changed, later
    occurrences), and never about values that have no literal form or were truncated.
    Raises ValueError, saying why, whenever the sample would be of no use: the program
    cannot be traced (it does not compile, times out, runs out of memory); the call raises
    (or names a function that does not exist) or never finishes within the step cap, unless
    ``on_incomplete="keep"``; two runs of the call differ (``determinism="check"``, the
    default, traces it twice); or no question of the requested kinds can be asked.

    Example:
        >>> s = build_sample("def f(x):\\n    y = x + 1\\n    return y * 2", "f(3)", seed=1)
        >>> [q.kind for q in s.questions][:2], s.questions[0].gold_text
        (['output', 'next_statement'], 'assert f(3) == 8')
    """
    from stepreward.trace._api import trace as run_trace

    if determinism not in ("check", "skip"):
        raise ValueError(f"determinism must be 'check' or 'skip', not {determinism!r}")
    check_kinds(kinds)
    t = run_trace(source, call, limits, sandbox=sandbox)
    sample = sample_from_trace(t, kinds, max_per_kind, seed=seed, on_incomplete=on_incomplete)
    if determinism == "check":
        _check_same(t, run_trace(source, call, limits, sandbox=sandbox))
    if not sample.questions:
        raise ValueError(f"no question of the kinds {', '.join(sample.kinds)} can be asked "
                         "about this run (its values have no literal form, or nothing "
                         "qualifies); try other kinds")
    return sample


@keyword_only("seed")
def build_samples(items: Iterable[tuple[str, str]], kinds: Sequence[str] = DEFAULT_KINDS,
                  max_per_kind: int = 5, *, seed: int = 0, sandbox: Sandbox | None = None,
                  limits: Limits | None = None, on_incomplete: IncompleteRuns = "raise",
                  determinism: NondeterminismCheck = "check") -> list[Sample | None]:
    """:func:`build_sample` over many ``(source, call)`` pairs, traced concurrently.

    Item *i* uses ``seed + i``; items for which :func:`build_sample` would raise give None
    (kinds that cannot share a sample are a ValueError for the whole call).

    Example:
        >>> out = build_samples([("def f():\\n    return 1", "f()"), ("def f(:", "f()")])
        >>> [s is None for s in out]
        [False, True]
    """
    from stepreward.trace._api import trace_many

    if determinism not in ("check", "skip"):
        raise ValueError(f"determinism must be 'check' or 'skip', not {determinism!r}")
    check_kinds(kinds)  # a ValueError for every item is one for the whole call
    pairs = list(items)
    traces = trace_many(pairs, limits, sandbox=sandbox)
    again = (trace_many(pairs, limits, sandbox=sandbox) if determinism == "check"
             else traces)
    out: list[Sample | None] = []
    for i, (t, t2) in enumerate(zip(traces, again, strict=True)):
        try:
            s = sample_from_trace(t, kinds, max_per_kind, seed=seed + i,
                                  on_incomplete=on_incomplete)
            _check_same(t, t2)
        except ValueError:
            out.append(None)
            continue
        out.append(s if s.questions else None)
    return out
