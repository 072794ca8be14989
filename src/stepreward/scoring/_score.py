"""``score(completion, sample)``: parse the answers, grade each one, compose the reward."""

from __future__ import annotations

import ast
import inspect
import json
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from stepreward._compat import warn_renamed
from stepreward._textcache import TextCache
from stepreward.questions._gate import parse_answer
from stepreward.questions._kind import value_bytes_bound
from stepreward.questions._kinds import KINDS, QuestionKind, get_kind
from stepreward.scoring._parse import (
    AnswerBlock,
    completion_text,
    extract_answer_block,
    extract_lenient_block,
    missing_block_reason,
    split_answers,
)
from stepreward.types import (
    Extraction,
    GradingPolicy,
    Limits,
    Question,
    RewardConfig,
    Sample,
    Score,
    Trace,
    Verdict,
)
from stepreward.values import to_literal

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["COMPONENTS", "PRESETS", "reward_preset", "score", "score_many"]

#: The components of a score: one accuracy per question kind (``KINDS``), then ``format``.
COMPONENTS = (*KINDS, "format")
PRESETS: dict[str, RewardConfig] = {
    "normalized": RewardConfig(),
    "execverify": RewardConfig(scale=2.0),
}
REFERENCE = "execverify_reference"
_MAX_TEXT = 4_000_000  # characters of a completion looked at (its end, where answers are)

# What score() grades against: a Sample, its row (dict or JSON text), or a Trace, meaning the
# sample sample_from_trace(trace) builds (default question selection and seed).
SampleLike: TypeAlias = Sample | Trace | dict[str, Any] | str

_MISSING = Verdict.model_construct(correct=False, status="missing", parsed=None,
                                   reason="no answer for this question", partial=0.0)


def reward_preset(name: str) -> RewardConfig | str:
    """The configuration of a named preset (``execverify_reference`` is a mode of its own).

    Example:
        >>> reward_preset("execverify").scale
        2.0
    """
    if name == REFERENCE:
        return REFERENCE
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown reward preset {name!r}; known: "
                         f"{sorted([*PRESETS, REFERENCE])}") from None


# ---------------------------------------------------------------------------------- samples

# Rows parsed into Samples, keyed by the whole row's JSON text (two rows that differ anywhere,
# the program included, are two entries: over HTTP one client's row can never stand in for
# another's). Bounded in entries and in bytes; a row over the byte bound is parsed every time.
_CACHE_SIZE = 4096
_cache: TextCache[Sample] = TextCache(max_entries=_CACHE_SIZE, max_bytes=64 << 20)
_cache_lock = threading.Lock()


# Samples built from Trace objects, by object identity; the weak reference tells a live trace
# from a new one that reuses a dead one's id.
_trace_cache: OrderedDict[int, tuple[weakref.ref[Trace], Sample]] = OrderedDict()


def _from_trace(trace: Trace) -> Sample:
    from stepreward.questions._sample import sample_from_trace

    key = id(trace)
    with _cache_lock:
        hit = _trace_cache.get(key)
        if hit is not None and hit[0]() is trace:
            _trace_cache.move_to_end(key)
            return hit[1]
    built = sample_from_trace(trace)  # ValueError for a trace that ran into an error
    with _cache_lock:
        _trace_cache[key] = (weakref.ref(trace), built)
        if len(_trace_cache) > _CACHE_SIZE:
            _trace_cache.popitem(last=False)
    return built


def _as_sample(sample: SampleLike) -> Sample:
    if isinstance(sample, Sample):
        return sample
    if isinstance(sample, Trace):
        return _from_trace(sample)
    if isinstance(sample, dict):
        try:
            key = json.dumps(sample, sort_keys=True, separators=(",", ":"), default=repr)
        except (TypeError, ValueError, RecursionError):  # not cacheable; parsing says why
            return Sample.from_row(sample)
    elif isinstance(sample, str):
        key = sample
    else:
        raise TypeError(f"sample must be a Sample, a Trace, a row dict or its JSON text, "
                        f"got {type(sample).__name__}")
    hit = _cache.get(key)
    if hit is not None:
        return hit
    parsed = Sample.from_row(sample)
    _cache.put(key, parsed)
    return parsed


# ---------------------------------------------------------------------------------- grading


def _retry_forms(line: str) -> list[str]:
    """Forms of an answer line to try in turn when one does not parse."""
    forms = [line]
    if line.endswith(".") and not line.endswith(".."):
        forms.append(line[:-1].rstrip())
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "\"'" and line.count(line[0]) == 2:
        forms.append(line[1:-1].strip())
    return forms


def _grade_literal(line: str, q: Question, sample: Sample, float_tol: float,
                   sandbox: Sandbox | None) -> Verdict:
    if line == q.gold_text:
        return Verdict.model_construct(correct=True, status="correct", parsed=line,
                                       reason=None, partial=1.0)
    kind = get_kind(q.kind)
    verdict = None
    for form in _retry_forms(line):
        verdict = kind.grade(form, q, float_tol=float_tol, sandbox=sandbox,
                             source=sample.source, call=sample.call)
        if verdict.status != "unparseable":
            return verdict
    assert verdict is not None
    return verdict


_TAKES_SOURCE: dict[type, bool] = {}


def _takes_source(kind: QuestionKind) -> bool:
    """Whether a kind's ``executable`` takes the program's ``source`` (kinds written before it
    did take ``call`` and ``entry`` only)."""
    cls = type(kind)
    known = _TAKES_SOURCE.get(cls)
    if known is None:
        try:
            params = inspect.signature(cls.executable).parameters
            known = "source" in params or any(
                p.kind is p.VAR_KEYWORD for p in params.values())
        except (TypeError, ValueError, AttributeError):
            known = False
        _TAKES_SOURCE[cls] = known
    return known


def _grade_execute(line: str, q: Question, sample: Sample, sandbox: Sandbox | None,
                   limits: Limits | None) -> Verdict:
    """CRUXEval-compatible: evaluate the answer with the reference program loaded.

    The answer expression runs in the sandbox; its value comes back as a literal and is
    compared here with Python ``==`` (as CRUXEval's ``assert output == answer`` does).
    """
    from stepreward.trace._api import default_sandbox, eval_call

    entry = sample.entry or q.info.get("entry")
    text = line.strip().strip("`").strip()
    tree = parse_answer(text)
    if not isinstance(tree, ast.Module):
        return Verdict(correct=False, status="unparseable",
                       reason="not valid Python (or nested too deeply)")
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.Assert, ast.Expr)):
        return Verdict(correct=False, status="unparseable",
                       reason="expected an assertion or an expression")
    stmt = tree.body[0]
    expr = stmt.test if isinstance(stmt, ast.Assert) else stmt.value
    kind = get_kind(q.kind)
    extra = {"source": sample.source} if _takes_source(kind) else {}
    planned = kind.executable(expr, q, call=sample.call, entry=entry, **extra)
    if isinstance(planned, Verdict):
        return planned
    expression, gold = planned
    value = eval_call(sample.source, expression, limits, sandbox=sandbox or default_sandbox(),
                      max_value_bytes=value_bytes_bound(to_literal(gold)))
    if value is None:
        return Verdict(correct=False, status="wrong", parsed=expression,
                       reason="evaluating the answer failed (error, timeout or crash)")
    if not value.is_literal:
        return Verdict(correct=False, status="wrong", parsed=expression,
                       reason=f"the answer evaluates to a {value.type_name}, not a literal")
    got = value.to_python()
    try:
        ok = bool(got == gold)
    except Exception:  # e.g. comparing deep recursive structures
        ok = False
    return Verdict(correct=ok, status="correct" if ok else "wrong", parsed=expression,
                   reason=None if ok else "the answer's value differs from the expected one")


def _answer_at(block: AnswerBlock, i: int, kind: str) -> tuple[str, int]:
    # Kinds whose answers are values or assertions say ``multiline``: a model may spread them
    # over lines. A next-statement answer is one source line, and may leave a bracket open
    # (the first line of a multi-line statement), so it is never continued.
    k = get_kind(kind)
    if k.multiline:
        text, nxt = block.answer(i, multiline=True)
        if nxt == i + 1 or k.answer_parses(text):
            return text, nxt
    return block.lines[i], i + 1


def _align(block: AnswerBlock, questions: Sequence[Question]) -> tuple[list[str | None], bool]:
    """One answer (or None) per question, and whether the block had exactly one per question.

    Answers are aligned by their numbers when every answer carries one and they increase,
    otherwise by position. Multi-line answers are joined per question kind.
    """
    n, count = len(questions), len(block.lines)
    entries: list[tuple[int, str]] = []
    i = last = 0
    while i < count:
        number = block.numbers[i]
        if number is None or not last < number <= n:
            entries = []
            break
        text, i = _answer_at(block, i, questions[number - 1].kind)
        entries.append((number, text))
        last = number
    if entries:
        out: list[str | None] = [None] * n
        for number, text in entries:
            out[number - 1] = text
        return out, len(entries) == n
    out = []
    i = 0
    for q in questions:
        if i >= count:
            out.append(None)
            continue
        text, i = _answer_at(block, i, q.kind)
        out.append(text)
    return out, i == count and all(a is not None for a in out)


def _grade(answer: str, q: Question, sample: Sample, policy: GradingPolicy, float_tol: float,
           sandbox: Sandbox | None, limits: Limits | None) -> Verdict:
    try:
        if policy == "execute" and get_kind(q.kind).is_io:
            verdict = _grade_execute(answer, q, sample, sandbox, limits)
        else:
            verdict = _grade_literal(answer, q, sample, float_tol, sandbox)
    except Exception as exc:  # a grader bug must not crash the trainer
        verdict = Verdict(correct=False, status="unparseable",
                          reason=f"could not grade: {type(exc).__name__}: {exc}")
    # One documented form whatever the grader did with it: the answer text as read.
    return verdict if verdict.parsed == answer else verdict.model_copy(update={"parsed": answer})


# ---------------------------------------------------------------------------------- rewards


def _compose(sample: Sample, verdicts: list[Verdict], fmt: float,
             config: RewardConfig) -> tuple[float, dict[str, float | None]]:
    per_kind: dict[str, list[float]] = {}
    io: float | None = None
    step_num = step_den = 0.0
    for q, v in zip(sample.questions, verdicts, strict=True):
        kind = get_kind(q.kind)
        credit = v.partial if (kind.partial_credit and config.state_credit == "half") else float(
            v.correct)
        per_kind.setdefault(q.kind, []).append(credit)
        if kind.is_io:
            io = credit if io is None else min(io, credit)
        else:
            w = config.weight(q.kind)
            step_num += w * credit
            step_den += w
    components: dict[str, float | None] = {
        k: (sum(per_kind[k]) / len(per_kind[k]) if k in per_kind else None)
        for k in KINDS}
    components["format"] = fmt
    steps = step_num / step_den if step_den else None
    if io is None and steps is None:
        base = 0.0
    elif io is None:
        base = steps if steps is not None else 0.0
    elif steps is None:
        base = io
    elif config.gate == "io" and io < 1.0:
        base = 0.0
    else:
        base = (1 - config.alpha) * io + config.alpha * steps
    reward = config.scale * base + config.format_weight * fmt
    return (reward if math.isfinite(reward) else 0.0), components


def _empty(sample: Sample | None, why: str, preset: str, policy: GradingPolicy) -> Score:
    verdicts = [_MISSING] * (len(sample.questions) if sample else 0)
    components: dict[str, float | None] = dict.fromkeys((*KINDS, "format"))
    if sample:
        for k in {q.kind for q in sample.questions}:
            components[k] = 0.0
    components["format"] = 0.0
    return Score.model_construct(reward=0.0, components=components, verdicts=verdicts,
                                 parse_error=why, preset=preset, policy=policy)


def score(completion: Any, sample: SampleLike, *,
          preset: str | RewardConfig = "normalized", policy: GradingPolicy = "literal",
          float_tol: float = 0.0, sandbox: Sandbox | None = None,
          limits: Limits | None = None, extraction: Extraction = "strict",
          reward: str | RewardConfig | None = None) -> Score:
    """Grade a completion's answers to a sample's questions and compute its reward.

    ``completion`` is text or a chat (the last message's content is used); ``sample`` a
    :class:`Sample`, its row (dict or JSON text), or a :class:`Trace`, which stands for
    ``sample_from_trace(trace)``: the default question selection and seed, the sample whose
    prompt that call renders. ``preset`` is a preset name (``normalized``, ``execverify``,
    ``execverify_reference``) or a :class:`RewardConfig` (``reward=`` is its older, deprecated
    name). ``policy="literal"`` (default)
    grades without running anything, except an ``input`` answer whose arguments differ from
    the original ones: the reference program runs on them in ``sandbox``, or in
    :func:`default_sandbox` when none is given, so a correct answer is never paid 0;
    ``"execute"`` evaluates output and input answers with the reference program in the
    sandbox, as CRUXEval does. Answers may span lines (see docs/scoring.md). Never raises for
    any completion text; parsing is linear in the completion, which is cut to its last
    4,000,000 characters.

    ``extraction="strict"`` (default) reads the answers from the last closed ``<answer>``
    block only. ``"lenient"`` also reads an ``<answer>`` left open at the end, or else the
    last fenced block, for models that have not learnt the format (evaluation, a first RL
    stage without SFT); such an answer earns no format credit.

    Example:
        >>> s = Sample(id="x", source="def f(a):\\n    return a", call="f(1)", prompt="",
        ...            questions=[Question(kind="output", text="?", gold=1,
        ...                                gold_text="assert f(1) == 1", info={"call": "f(1)"})])
        >>> score("<answer>\\nassert f(1) == 1\\n</answer>", s).reward
        1.0
        >>> from stepreward.questions import sample_from_trace
        >>> from stepreward.trace import trace
        >>> t = trace("def f(a):\\n    return a", "f(1)")  # a Trace: its default sample
        >>> score(sample_from_trace(t).gold_completion(), t).reward
        1.0
    """
    if policy not in ("literal", "execute"):
        raise ValueError(f"policy must be 'literal' or 'execute', got {policy!r}")
    if extraction not in ("strict", "lenient"):
        raise ValueError(f"extraction must be 'strict' or 'lenient', got {extraction!r}")
    if reward is not None:
        warn_renamed("score(reward=)", "score(preset=)")
        preset = reward
    config: RewardConfig | str
    if isinstance(preset, RewardConfig):
        config, preset = preset, "custom"
    else:
        config = reward_preset(preset)
    s = _as_sample(sample)
    text = completion_text(completion)
    if text is None:
        return _empty(s, f"completion is not text (got {type(completion).__name__})", preset,
                      policy)
    if len(text) > _MAX_TEXT:
        text = text[-_MAX_TEXT:]
    try:
        return _score_text(text, s, config, preset, policy, float_tol, sandbox, limits,
                           extraction)
    except Exception as exc:  # MemoryError and RecursionError too: never into the trainer
        return _empty(s, f"could not grade: {type(exc).__name__}", preset, policy)


def _score_text(text: str, s: Sample, config: RewardConfig | str, preset: str,
                policy: GradingPolicy, float_tol: float, sandbox: Sandbox | None,
                limits: Limits | None, extraction: Extraction) -> Score:
    if config == REFERENCE:
        from stepreward.scoring._reference import reference_score

        return reference_score(text, s, sandbox=sandbox)
    if not isinstance(config, RewardConfig):
        raise TypeError(f"unknown reward configuration {config!r}")
    block = extract_answer_block(text)
    lenient = False
    if block is None and extraction == "lenient":
        block = extract_lenient_block(text)
        lenient = block is not None
    if block is None:
        why = missing_block_reason(text)
        if extraction == "lenient":
            why += " and no fenced block"
        return _empty(s, why, preset, policy)
    parts = split_answers(block)
    aligned, exact = _align(parts, s.questions)
    # A one-question sample: the whole block is the answer (a value spread over lines in any
    # way that parses); when it does not parse, the first answer as aligned above.
    whole = parts.whole() if len(s.questions) == 1 and len(parts.lines) > 1 else None
    verdicts: list[Verdict] = []
    for q, line in zip(s.questions, aligned, strict=True):
        if line is None:
            verdicts.append(_MISSING)
            continue
        v = None
        if whole is not None and whole != line:
            v = _grade(whole, q, s, policy, float_tol, sandbox, limits)
            if v.status == "unparseable":
                v = None
            else:
                exact = True
        if v is None:
            v = _grade(line, q, s, policy, float_tol, sandbox, limits)
        verdicts.append(v)
    fmt = 0.0 if lenient else 1.0 if exact else 0.5
    value, components = _compose(s, verdicts, fmt, config)
    return Score.model_construct(reward=value, components=components, verdicts=verdicts,
                                 parse_error=None, preset=preset, policy=policy)


def score_many(completions: Sequence[Any], samples: Sequence[SampleLike], *,
               preset: str | RewardConfig = "normalized", policy: GradingPolicy = "literal",
               float_tol: float = 0.0, sandbox: Sandbox | None = None,
               limits: Limits | None = None, extraction: Extraction = "strict",
               reward: str | RewardConfig | None = None) -> list[Score]:
    """:func:`score` over parallel lists (one sample per completion), in order.

    Example:
        >>> score_many([], [])
        []
    """
    if reward is not None:
        warn_renamed("score_many(reward=)", "score_many(preset=)")
        preset = reward
    if len(completions) != len(samples):
        raise ValueError(f"got {len(completions)} completions for {len(samples)} samples")
    parsed = [_as_sample(s) for s in samples]  # cached; misuse raises here, before any work
    # Input answers other than the original arguments are checked in the sandbox under the
    # literal policy too.
    runs = policy == "execute" or preset == REFERENCE or any(
        get_kind(q.kind).runs_program for s in parsed for q in s.questions)
    if runs:
        from concurrent.futures import ThreadPoolExecutor

        # Sandbox round trips dominate: keep every worker busy.
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(lambda cs: score(cs[0], cs[1], preset=preset, policy=policy,
                                                  float_tol=float_tol, sandbox=sandbox,
                                                  limits=limits, extraction=extraction),
                                 zip(completions, parsed, strict=True)))
    return [score(c, s, preset=preset, policy=policy, float_tol=float_tol, sandbox=sandbox,
                  limits=limits, extraction=extraction)
            for c, s in zip(completions, parsed, strict=True)]

