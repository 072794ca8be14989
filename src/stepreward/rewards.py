"""One reward entry for every framework: ``reward_for(completion, label) -> RewardResult``.

A label is what the library writes next to a prompt: a stage-1 sample row (``Sample.to_row()``,
as a dict or its JSON text), a stage-2 code task (``CodeTask.model_dump()``, dict or JSON), or
the objects themselves. The label may carry ``reward_options`` (``{"preset": "execverify"}``,
``{"preset": "method", "partial_tests": 10}``) and other keys an adapter reads; they are not
part of the sample or task. Every result has the same metric keys (:data:`METRIC_KEYS`),
whatever the label, because verl and OpenRLHF batch metrics by key. :func:`reward_for` never
raises: a bad label, a completion that is not text or a broken sandbox give a reward of 0
with the reason.

Example:
    >>> from stepreward.types import CodeTask, TestCase
    >>> task = CodeTask(task_id="t", prompt="", tests=[TestCase.call("sq", (3,), 9)])
    >>> code = "<answer>\\n```python\\ndef sq(x):\\n    return x * x\\n```\\n</answer>"
    >>> r = reward_for(code, task.model_dump_json(), preset="method")
    >>> r.reward, r.score, r.correct, r.kind
    (1.05, 1.0, True, 'code')
    >>> reward_for("anything", "not a label").reason
    'the label is not JSON'
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from stepreward._textcache import TextCache
from stepreward.presets import (
    DEFAULT_PRESETS,
    PRESETS,
    LabelKind,
    Preset,
    get_preset,
    option_names,
    preset_names,
)
from stepreward.scoring import completion_text
from stepreward.types import CodeTask, RewardConfig, Sample

__all__ = ["METRICS_BY_KIND", "METRIC_KEYS", "PRESETS", "Label", "RewardResult", "areward_for",
           "areward_many", "episode_result", "preset_names", "read_label", "reward_for",
           "reward_for_turn", "reward_many"]

log = logging.getLogger("stepreward.rewards")

ResultKind = Literal["trace", "code", "invalid"]

# The same keys, in this order, on every result (numbers only; a key that does not apply to
# the label's kind is 0.0). docs/scoring.md describes each one.
METRIC_KEYS: tuple[str, ...] = (
    "stage1",           # 1.0 for a stage-1 (trace question) label
    "stage2",           # 1.0 for a stage-2 (code task) label
    "accuracy",         # raw correctness: share of right answers / of tests passed
    "correct",          # 1.0 when every question is right / every test passes
    "format",           # stage 1: 1 one answer per question, 0.5 other count; stage 2: 1 code
    "no_answer",        # 1.0 without an answer block (stage 1) or without code (stage 2)
    "unparsed",         # stage 1: share of answers that could not be read
    "output_accuracy",  # stage 1: share of output questions right (0.0 when none asked)
    "input_accuracy",   # stage 1: share of input questions right (0.0 when none asked)
    "step_accuracy",    # stage 1: share of the other (step) questions right
    "pass_rate",        # stage 2: share of tests passed
    "timeouts",         # stage 2: share of tests that timed out (or were skipped after one)
    "errors",           # 1.0 when the label could not be read or grading failed
)

# The keys of METRIC_KEYS that say something about a label of each kind (the others are 0.0
# there): what a trainer that logs per kind, like TRL, shows.
METRICS_BY_KIND: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "trace": ("accuracy", "correct", "format", "no_answer", "unparsed", "output_accuracy",
              "input_accuracy", "step_accuracy", "errors"),
    "code": ("accuracy", "correct", "format", "no_answer", "pass_rate", "timeouts", "errors"),
    "invalid": ("errors",),
})

# The fields of a code task; the other keys of a code label are its envelope.
_CODE_FIELDS = frozenset(CodeTask.model_fields)


@dataclass(frozen=True)
class RewardResult:
    """The reward for one completion and everything a trainer logs about it.

    ``reward`` is what the trainer optimises (the preset's shaped value); ``score`` the raw
    correctness in [0, 1] (share of right answers, or of tests passed) for filtering;
    ``correct`` whether all were right; ``metrics`` exactly :data:`METRIC_KEYS`;
    ``reason`` says why the reward is not full marks (None when it is); ``details`` the
    ``Score`` or ``CodeScore`` behind it; ``per_kind`` the accuracy per question kind asked
    (stage 1 only); ``preset`` the preset's name (``custom`` for a RewardConfig).

    Example:
        >>> r = reward_for("no answer here", "{}")
        >>> r.kind, r.reward, list(r.metrics) == list(METRIC_KEYS)
        ('invalid', 0.0, True)
    """

    reward: float
    score: float
    correct: bool
    metrics: dict[str, float]
    reason: str | None
    kind: ResultKind
    details: Any = field(default=None, repr=False, compare=False)
    per_kind: dict[str, float] = field(default_factory=dict)
    preset: str | None = None


@dataclass(frozen=True)
class Label:
    """A label read by :func:`read_label`: its kind, the sample or task, the reward options
    it carries (``reward_options``), the rest of its envelope, or why it is invalid.

    Example:
        >>> read_label('{"task_id": "t", "prompt": "Add.", "tests": []}').kind
        'code'
    """

    kind: ResultKind
    item: Sample | CodeTask | None
    options: Mapping[str, Any] = field(default_factory=dict)
    envelope: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None


def _why(exc: Exception) -> str:
    """An exception in one line of at most 300 characters (pydantic's: field and message)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            text = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
        except Exception:
            text = str(exc)
    else:
        text = str(exc)
    return " ".join(text.split())[:300]


_ZERO = dict.fromkeys(METRIC_KEYS, 0.0)


def _metrics(kind: ResultKind, **values: float) -> dict[str, float]:
    out = _ZERO.copy()
    out["stage1"] = float(kind == "trace")
    out["stage2"] = float(kind == "code")
    for key, value in values.items():
        # Values are shares and flags: NaN can only come from a grader bug; never log it.
        out[key] = float(value) if math.isfinite(value) else 0.0
    return out


def _invalid(reason: str, kind: ResultKind = "invalid", preset: str | None = None,
             details: Any = None) -> RewardResult:
    return RewardResult(0.0, 0.0, False, _metrics(kind, errors=1.0), reason, kind, details,
                        preset=preset)


# ------------------------------------------------------------------------------ labels


def _from_object(data: Any) -> Label:
    if isinstance(data, Sample):
        return Label("trace", data)
    if isinstance(data, CodeTask):
        return Label("code", data)
    if not isinstance(data, dict):
        return Label("invalid", None, reason=f"the label is a {type(data).__name__}, not a "
                                             f"sample row or a code task")
    options = data.get("reward_options")
    if options is not None and not isinstance(options, dict):
        return Label("invalid", None, reason="the label's reward_options is not an object")
    options = MappingProxyType(dict(options or {}))
    try:
        if "questions" in data:
            envelope = {k: v for k, v in data.items() if k not in (
                "id", "prompt", "source", "call", "entry", "kinds", "seed", "max_per_kind",
                "python", "format_version", "questions")}
            return Label("trace", Sample.from_row(data), options, MappingProxyType(envelope))
        if "tests" in data:
            envelope = {k: v for k, v in data.items() if k not in _CODE_FIELDS}
            task = CodeTask.model_validate({k: v for k, v in data.items() if k in _CODE_FIELDS})
            return Label("code", task, options, MappingProxyType(envelope))
    except Exception as exc:  # pydantic's errors, JSON in 'questions', wrong types
        what = "sample row" if "questions" in data else "code task"
        text = _why(exc)
        return Label("invalid", None, reason=f"the label is not a valid {what}: {text}")
    if isinstance(data.get("label"), (str, dict)):  # a whole dataset row: its label column
        return read_label(data["label"])
    return Label("invalid", None, reason="the label is neither a sample row ('questions') nor "
                                         "a code task ('tests')")


# Labels read from JSON text, keyed by the whole text (two labels that differ anywhere are two
# entries, so one client's label never stands in for another's): the G completions of a prompt
# share one parse. Bounded in bytes as well as entries: a reward server's clients choose them.
_labels: TextCache[Label] = TextCache(max_entries=4096, max_bytes=64 << 20)


def _from_text(text: str) -> Label:
    label = _labels.get(text)
    if label is None:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return Label("invalid", None, reason="the label is not JSON")
        label = _from_object(data)
        _labels.put(text, label)
    return label


def read_label(label: Any) -> Label:
    """What a label is: a stage-1 sample, a stage-2 code task, or invalid (with the reason).

    Takes a :class:`Sample`, a :class:`CodeTask`, a row dict, its JSON text (cached by the
    whole text, at most 4,096 labels and 64 MiB: the G completions of a prompt share one
    parse) or bytes; a dataset row whose ``label`` column
    holds one of these is read through it. Never raises.

    Example:
        >>> read_label(None).reason
        'no label'
    """
    try:
        if label is None:
            return Label("invalid", None, reason="no label")
        if isinstance(label, (bytes, bytearray)):
            label = bytes(label).decode("utf-8", "replace")
        if isinstance(label, str):
            return _from_text(label)
        return _from_object(label)
    except Exception as exc:  # a hostile object: never into the trainer
        return Label("invalid", None, reason=f"the label could not be read: "
                                             f"{type(exc).__name__}")


# ------------------------------------------------------------------------------ presets


PresetSpec = str | RewardConfig | Preset | Mapping[str, Any] | None


def _resolve(spec: PresetSpec, label: Label) -> tuple[Preset | None, str | None, bool]:
    """The preset for ``label``, the reason when there is none, and whether the label's own
    options apply (only when the caller named no preset)."""
    kind: LabelKind = "trace" if label.kind == "trace" else "code"
    from_label = False
    if isinstance(spec, Mapping) and not isinstance(spec, RewardConfig):
        spec = spec.get(kind)  # one preset per label kind: {"trace": ..., "code": ...}
    if spec is None:
        from_label = True
        spec = label.options.get("preset")
        if spec is None and kind == "code" and label.options.get("partial_tests"):
            spec = "method"  # {"partial_tests": n, ...} alone names the method's reward
        if spec is None:
            spec = DEFAULT_PRESETS[kind]
    if isinstance(spec, RewardConfig):
        preset: Preset = Preset.trace("custom", spec, "a RewardConfig")
    elif isinstance(spec, Preset):
        preset = spec
    elif isinstance(spec, str):
        try:
            preset = get_preset(spec)
        except ValueError as exc:
            return None, str(exc), from_label
    else:
        return None, f"a preset is a name, a RewardConfig or a Preset, got " \
                     f"{type(spec).__name__}", from_label
    if preset.kind != kind:
        what = "stage-1 samples" if preset.kind == "trace" else "code tasks"
        label_what = "a stage-1 sample" if kind == "trace" else "a code task"
        return None, f"preset {preset.name!r} grades {what}; the label is {label_what}", \
            from_label
    return preset, None, from_label


def _options(preset: Preset, label: Label, use_label: bool,
             given: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    opts = dict(preset.options)
    if not given and not (use_label and label.options):
        return opts, None
    known = option_names()
    sources = [given] if not use_label else [
        {k: v for k, v in label.options.items() if k != "preset"}, given]
    for source in sources:
        for key, value in source.items():
            if key in preset.options:
                opts[key] = value
            elif key not in known:
                return opts, f"unknown reward option {key!r} (preset {preset.name!r} takes " \
                             f"{', '.join(sorted(preset.options)) or 'none'})"
            # An option of another preset (a code option next to a stage-1 label): not ours.
    return opts, None


# ------------------------------------------------------------------------------ results

# How the graders (which never raise) say that grading itself failed, not the completion:
# score()'s and code_reward()'s catch-all, run_tests()'s broken sandbox. Such a result counts
# in ``errors`` and its reason starts with "internal error", as an exception here would.
_GRADING_FAILED = ("could not grade: ", "could not run the tests: ")


def _grading_failed(reason: str | None) -> str | None:
    """``reason`` as an internal-error reason when a grader reports its own failure."""
    if reason is not None and reason.startswith(_GRADING_FAILED):
        return f"internal error: {reason}"
    return None


def _is_step(kind: str) -> bool:
    """Whether questions of ``kind`` count as steps: every kind but the I/O ones."""
    from stepreward.questions._kinds import KINDS

    known = KINDS.get(kind)
    return known is None or not known.is_io


def _trace_result(sc: Any, sample: Sample, preset: str) -> RewardResult:
    kinds = [q.kind for q in sample.questions]
    per_kind: dict[str, list[int]] = {}  # kind -> [right, asked]
    steps = [0, 0]
    right = unparsed = 0
    wrong: list[str] = []
    for i, (k, v) in enumerate(zip(kinds, sc.verdicts, strict=False), 1):
        ok = bool(v.correct)
        tally = per_kind.setdefault(k, [0, 0])
        tally[0] += ok
        tally[1] += 1
        if _is_step(k):
            steps[0] += ok
            steps[1] += 1
        right += ok
        unparsed += v.status == "unparseable"
        if not ok:
            wrong.append(f"{i}. {k} {v.status}")
    accuracy = {k: r / n for k, (r, n) in per_kind.items()}
    n = len(kinds)
    score = right / n if n else 0.0
    correct = n > 0 and right == n
    fmt = sc.components.get("format") if isinstance(sc.components, dict) else None
    metrics = _metrics(
        "trace", accuracy=score, correct=float(correct), format=float(fmt or 0.0),
        no_answer=float(sc.parse_error is not None), unparsed=unparsed / n if n else 0.0,
        output_accuracy=accuracy.get("output", 0.0), input_accuracy=accuracy.get("input", 0.0),
        step_accuracy=steps[0] / steps[1] if steps[1] else 0.0)
    failed = _grading_failed(sc.parse_error)
    if failed is not None:
        metrics["errors"] = 1.0
    if correct:
        reason = None
    elif failed is not None:
        reason = failed
    elif sc.parse_error:
        reason = sc.parse_error
    elif not n:
        reason = "the sample has no questions"
    else:
        reason = f"{right}/{n} right: " + ", ".join(wrong)
    reward = float(sc.reward) if math.isfinite(sc.reward) else 0.0
    return RewardResult(reward, score, correct, metrics, reason, "trace", sc, accuracy, preset)


def _code_result(cs: Any, text: str, preset: str) -> RewardResult:
    from stepreward.codegen import extract_code

    report = cs.report
    if cs.reward is None:  # a task without tests
        return _invalid(cs.parse_error or "not a code-generation task", "code", preset, cs)
    total = report.total if report is not None else 0
    score = report.pass_rate if report is not None else 0.0
    correct = report is not None and total > 0 and report.passed == total
    timeouts = 0.0
    if report is not None and total:
        timeouts = sum(f.reason.startswith(("timed out", "not run: an earlier"))
                       for f in report.failures) / total
    metrics = _metrics(
        "code", accuracy=score, correct=float(correct),
        format=float(extract_code(text, "answer_block") is not None),
        no_answer=float(cs.code is None), pass_rate=score, timeouts=timeouts)
    failed = _grading_failed(cs.parse_error)
    if failed is not None:
        metrics["errors"] = 1.0
        reason: str | None = failed
    elif cs.parse_error:
        reason = cs.parse_error
    elif correct:
        reason = None
    else:
        reason = f"{report.passed}/{total} tests passed" if report is not None else "no tests ran"
    reward = float(cs.reward) if math.isfinite(cs.reward) else 0.0
    return RewardResult(reward, score, correct, metrics, reason, "code", cs, {}, preset)


# ------------------------------------------------------------------------------ the entry


def reward_for(completion: Any, label: Any, *, preset: PresetSpec = None,
               **options: Any) -> RewardResult:
    """The reward for ``completion`` (text, or a chat whose last message is the answer)
    against ``label`` (see :func:`read_label`). Never raises.

    ``preset`` is a registered name (:data:`PRESETS`), a :class:`RewardConfig`, a
    :class:`Preset`, or ``{"trace": ..., "code": ...}`` for mixed data; None takes the one the
    label records in ``reward_options`` (with the label's options), else the default of the
    label's kind (``normalized``, ``partial``). ``options`` go to the preset (``policy``,
    ``float_tol``, ``sandbox`` for stage 1; ``timeout_s``, ``format_bonus``,
    ``partial_tests``, ``sandbox`` for stage 2); an option of another preset is ignored, so
    one call can carry the options of both kinds. An unknown option, an unknown preset or a
    preset of the other kind gives a reward of 0 with the reason.

    Example:
        >>> from stepreward.types import Question
        >>> s = Sample(id="x", source="def f(a):\\n    return a", call="f(1)", prompt="",
        ...            questions=[Question(kind="output", text="?", gold=1,
        ...                                gold_text="assert f(1) == 1", info={"call": "f(1)"})])
        >>> r = reward_for("<answer>\\nassert f(1) == 1\\n</answer>", s.to_row(),
        ...                preset="execverify")
        >>> r.reward, r.score, r.metrics["output_accuracy"]
        (2.0, 1.0, 1.0)
    """
    lab = read_label(label)
    if lab.kind == "invalid" or lab.item is None:
        return _invalid(lab.reason or "invalid label")
    chosen, why, use_label = _resolve(preset, lab)
    if chosen is None:
        return _invalid(why or "no preset", lab.kind)
    opts, why = _options(chosen, lab, use_label, options)
    if why is not None:
        return _invalid(why, lab.kind, chosen.name)
    try:
        text = completion_text(completion)
        if text is None:
            return RewardResult(0.0, 0.0, False, _metrics(lab.kind, no_answer=1.0),
                                f"the completion is not text (got "
                                f"{type(completion).__name__})", lab.kind, preset=chosen.name)
        details = chosen.run(text, lab.item, **opts)
        if lab.kind == "trace":
            return _trace_result(details, lab.item, chosen.name)  # type: ignore[arg-type]
        return _code_result(details, text, chosen.name)
    except Exception as exc:  # a grader bug or a broken sandbox must not stop training
        log.warning("stepreward could not grade a completion (%s): %r", chosen.name, exc)
        return _invalid(f"internal error: {type(exc).__name__}: {_why(exc)}", lab.kind,
                        chosen.name)


async def areward_for(completion: Any, label: Any, *, preset: PresetSpec = None,
                      **options: Any) -> RewardResult:
    """:func:`reward_for` in a worker thread, so the event loop keeps running while the
    sandbox works.

    Example:
        >>> asyncio.run(areward_for("x", None)).reason
        'no label'
    """
    return await asyncio.to_thread(reward_for, completion, label, preset=preset, **options)


def _runs_code(label: Any, preset: PresetSpec, options: Mapping[str, Any]) -> bool:
    lab = read_label(label)
    if lab.kind != "trace":
        return lab.kind == "code"
    name = preset if isinstance(preset, str) else lab.options.get("preset")
    return (options.get("policy", lab.options.get("policy")) == "execute"
            or name == "execverify_reference"
            or any(q.kind == "input" for q in lab.item.questions))  # type: ignore[union-attr]


def reward_many(completions: Sequence[Any], labels: Sequence[Any], *,
                preset: PresetSpec = None, max_concurrency: int = 16,
                **options: Any) -> list[RewardResult]:
    """:func:`reward_for` over parallel lists, in order; completions whose grading runs code
    (code tasks, the execute policy, input questions) are graded concurrently on the sandbox
    pool. Raises ValueError only when the lists differ in length.

    Example:
        >>> [r.kind for r in reward_many(["a", "b"], [None, "{}"])]
        ['invalid', 'invalid']
    """
    if len(completions) != len(labels):
        raise ValueError(f"got {len(completions)} completions for {len(labels)} labels")
    out: list[RewardResult | None] = [None] * len(labels)
    slow = [i for i, lab in enumerate(labels) if _runs_code(lab, preset, options)]
    if len(slow) > 1 and max_concurrency > 1:
        from concurrent.futures import ThreadPoolExecutor

        # Threads only wait: the sandbox's processes do the work.
        with ThreadPoolExecutor(min(max_concurrency, len(slow))) as pool:
            done = pool.map(lambda i: reward_for(completions[i], labels[i], preset=preset,
                                                 **options), slow)
            for i, result in zip(slow, done, strict=True):
                out[i] = result
    return [r if r is not None else reward_for(completions[i], labels[i], preset=preset,
                                               **options) for i, r in enumerate(out)]


async def areward_many(completions: Sequence[Any], labels: Sequence[Any], *,
                       preset: PresetSpec = None, max_concurrency: int = 16,
                       **options: Any) -> list[RewardResult]:
    """:func:`reward_many` off the event loop.

    Example:
        >>> asyncio.run(areward_many([], []))
        []
    """
    return await asyncio.to_thread(reward_many, completions, labels, preset=preset,
                                   max_concurrency=max_concurrency, **options)


# ------------------------------------------------------------------------------ multi-turn


def reward_for_turn(completion: Any, label: Any, turn: int, *, preset: PresetSpec = None,
                    **options: Any) -> RewardResult:
    """The reward for one turn of a multi-turn episode: ``completion`` answers only the
    stage-1 label's question number ``turn`` (from 0), graded as a one-question sample.

    Example:
        >>> reward_for_turn("x", '{"task_id": "t", "prompt": "", "tests": []}', 0).reason
        'a turn answers a stage-1 question; the label is a code task'
    """
    lab = read_label(label)
    if lab.kind == "invalid" or lab.item is None:
        return _invalid(lab.reason or "invalid label")
    if lab.kind != "trace":
        return _invalid("a turn answers a stage-1 question; the label is a code task", "code")
    sample: Sample = lab.item  # type: ignore[assignment]
    if not 0 <= turn < len(sample.questions):
        return _invalid(f"turn {turn} is past the sample's {len(sample.questions)} questions",
                        "trace")
    one = sample.model_copy(update={"questions": [sample.questions[turn]]})
    envelope = {"reward_options": dict(lab.options)} if lab.options else {}
    return reward_for(completion, {**one.to_row(), **envelope}, preset=preset, **options)


def episode_result(label: Any, turns: Sequence[RewardResult],
                   rewards: Sequence[float] | None = None) -> RewardResult:
    """One result for a multi-turn episode whose turn ``i`` answered question ``i``
    (results of :func:`reward_for_turn`); questions without a turn count as unanswered.

    ``score``, ``correct`` and the metrics cover the whole episode; ``reward`` is the sum of
    ``rewards`` (what the trainer paid per turn; default: each turn's reward over the number
    of questions).

    Example:
        >>> episode_result(None, []).reason
        'no label'
    """
    lab = read_label(label)
    if lab.kind != "trace" or lab.item is None:
        return _invalid(lab.reason or "a multi-turn episode needs a stage-1 label", lab.kind)
    kinds = [q.kind for q in lab.item.questions]  # type: ignore[union-attr]
    n = len(kinds)
    if not n:
        return _invalid("the sample has no questions", "trace")
    turns = list(turns)[:n]
    right = [t.correct for t in turns] + [False] * (n - len(turns))

    def share(keep: Any) -> float:
        picked = [ok for k, ok in zip(kinds, right, strict=True) if keep(k)]
        return sum(picked) / len(picked) if picked else 0.0

    per_kind = {k: share(lambda x, k=k: x == k) for k in dict.fromkeys(kinds)}
    score = sum(right) / n
    correct = all(right)
    missing = n - len(turns)
    metrics = _metrics(
        "trace", accuracy=score, correct=float(correct),
        format=sum(t.metrics["format"] for t in turns) / n,
        no_answer=(sum(t.metrics["no_answer"] for t in turns) + missing) / n,
        unparsed=sum(t.metrics["unparsed"] for t in turns) / n,
        output_accuracy=per_kind.get("output", 0.0), input_accuracy=per_kind.get("input", 0.0),
        step_accuracy=share(_is_step),
        errors=float(any(t.metrics["errors"] for t in turns)))
    paid = list(rewards) if rewards is not None else [t.reward / n for t in turns]
    wrong = [f"{i}. {kinds[i - 1]} {t.reason or 'wrong'}" for i, t in enumerate(turns, 1)
             if not t.correct]
    if missing:
        wrong.append(f"{missing} question(s) not reached")
    reason = None if correct else f"{sum(right)}/{n} right: " + "; ".join(wrong)
    return RewardResult(float(sum(paid)), score, correct, metrics, reason, "trace", list(turns),
                        per_kind, turns[0].preset if turns else None)
