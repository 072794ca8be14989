"""The reward-preset registry: every named reward, stage 1 and stage 2, in one table.

A preset turns a completion's text and one label object (a :class:`Sample` for stage 1, a
:class:`CodeTask` for stage 2) into the underlying result (a ``Score`` or a ``CodeScore``);
:func:`stepreward.rewards.reward_for` looks presets up here and derives the reward, the raw
correctness and the fixed metrics from that result. The command line, the TRL and OpenRLHF
adapters and the recipe read their preset names from :data:`PRESETS`.

Adding a preset is one :func:`register_preset` call (see docs/architecture.md):

    >>> from stepreward.types import RewardConfig
    >>> p = register_preset(Preset.trace("gated_heavy", RewardConfig(alpha=0.8),
    ...                                  "80% steps, output-gated"))
    >>> get_preset("gated_heavy").kind, "gated_heavy" in preset_names("trace")
    ('trace', True)
    >>> unregister_preset("gated_heavy")
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from stepreward.types import CodeTask, Limits, RewardConfig, Sample

if TYPE_CHECKING:
    from stepreward.codegen import CodeScore
    from stepreward.sandbox._pool import Sandbox
    from stepreward.types import Score

__all__ = ["DEFAULT_PRESETS", "PRESETS", "LabelKind", "Preset", "get_preset", "method_reward",
           "option_names", "partial_test_indices", "preset_names", "register_preset",
           "unregister_preset"]

LabelKind = Literal["trace", "code"]

# Options every preset of a kind may take, with their defaults; a preset narrows or changes
# them in its own ``options``. ``sandbox`` (a Sandbox or None: the process default) is
# accepted by every preset.
TRACE_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {"policy": "literal", "float_tol": 0.0, "limits": None, "sandbox": None,
     "extraction": "strict"})
CODE_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {"timeout_s": 1.0, "format_bonus": 0.0, "bonus_on_fail": False, "extract": "answer_block",
     "sandbox": None})


@dataclass(frozen=True)
class Preset:
    """One named reward: what it grades (``kind``), how (``run``) and the options it takes.

    ``run(text, item, **options)`` gets the completion's text (never None), the label's
    :class:`Sample` (trace) or :class:`CodeTask` (code) and every option of ``options``
    (the defaults overlaid with the caller's); it returns a ``Score`` (trace) or a
    ``CodeScore`` (code). It may raise: :func:`stepreward.rewards.reward_for` turns an
    exception into a reward of 0 with the reason.

    Example:
        >>> get_preset("method").options["partial_tests"]
        10
    """

    name: str
    kind: LabelKind
    summary: str
    run: Callable[..., Any] = field(repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    config: RewardConfig | None = None  # a stage-1 preset's reward composition, when it has one

    @classmethod
    def trace(cls, name: str, config: RewardConfig, summary: str) -> Preset:
        """A stage-1 preset from a :class:`RewardConfig` (graded by :func:`stepreward.score`).

        Example:
            >>> Preset.trace("x", RewardConfig(scale=3.0), "three points").config.scale
            3.0
        """
        def run(text: str, sample: Sample, **options: Any) -> Score:
            score, presets = _scoring()
            return score(text, sample,  # type: ignore[no-any-return]
                         preset=name if presets.get(name) == config else config, **options)

        return cls(name, "trace", summary, run, dict(TRACE_OPTIONS), config)


@cache
def _scoring() -> tuple[Callable[..., Any], dict[str, Any]]:
    """``score`` and scoring's preset table, looked up once (the hot path calls them)."""
    from stepreward import scoring

    return scoring.score, scoring.PRESETS


def _scoring_presets() -> dict[str, Any]:
    return _scoring()[1]


# ------------------------------------------------------------------------------ stage 1


def _reference(text: str, sample: Sample, *, sandbox: Sandbox | None = None,
               **_: Any) -> Score:
    from stepreward.scoring import score

    return score(text, sample, preset="execverify_reference", sandbox=sandbox)


# ------------------------------------------------------------------------------ stage 2


def _code_mode(mode: Literal["pass_rate", "all_or_nothing"]) -> Callable[..., CodeScore]:
    def run(text: str, task: CodeTask, *, timeout_s: float = 1.0, **options: Any) -> CodeScore:
        from stepreward.codegen import code_reward

        return code_reward(text, task, mode=mode, limits=_test_limits(timeout_s), **options)

    return run


def _test_limits(timeout_s: float) -> Limits:
    """Each test's limits from a label's ``timeout_s`` option (512 MB, as run_tests' default)."""
    return Limits(timeout_s=timeout_s, memory_mb=512)


def partial_test_indices(task: CodeTask, partial_tests: int,
                         seed: int | None = None) -> list[int]:
    """The tests whose pass rate the ``method`` preset pays when not every test passes: the
    first ``partial_tests`` (the method's rule, ``seed=None``), or that many drawn per task
    with ``seed`` (the same task id, test count and seed always draw the same tests).

    Example:
        >>> from stepreward.types import TestCase
        >>> t = CodeTask(task_id="t", prompt="",
        ...              tests=[TestCase.call("f", (i,), i) for i in range(30)])
        >>> partial_test_indices(t, 10)
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        >>> partial_test_indices(t, 10, seed=0) == partial_test_indices(t, 10, seed=0)
        True
    """
    n = len(task.tests)
    k = min(max(1, partial_tests), n)
    if seed is None:
        return list(range(k))
    # Seeded by text: str seeds hash the same in every process (no PYTHONHASHSEED).
    rng = random.Random(f"{seed}:{task.task_id}:{n}")
    return sorted(rng.sample(range(n), k))


def method_reward(text: str, task: CodeTask, *, format_bonus: float = 0.05,
                  partial_tests: int = 10, timeout_s: float = 1.0,
                  sandbox: Sandbox | None = None, partial_seed: int | None = None) -> CodeScore:
    """The method's stage-2 reward (the ``method`` preset): 1 when every test passes;
    otherwise the pass rate over the first ``partial_tests`` tests; plus ``format_bonus``
    only when that rate is above 0.

    The first tests are usually the examples the prompt shows, so code that passes only those
    earns as much as a right solution (docs/codegen.md). ``partial_seed`` keeps the rule but
    pays the pass rate over ``partial_tests`` tests drawn per task with that seed
    (:func:`partial_test_indices`). The prompt's own helper code is defined again after the
    completion's, so a completion cannot replace it.

    As in the reference, the code is the last python block of the ``<answer>`` block (the
    block's text when it has no fence) and a completion without a closed ``<answer>`` block
    scores 0. The reference's crash when nothing passes (B-7 in docs/method.md) is a plain 0
    here.

    Example:
        >>> from stepreward.types import TestCase
        >>> t = CodeTask(task_id="t", prompt="", tests=[TestCase.call("sq", (3,), 9)])
        >>> method_reward("<answer>\\n```python\\ndef sq(x):\\n    return x * x\\n```\\n"
        ...               "</answer>", t).reward
        1.05
    """
    from stepreward.codegen import CodeScore, extract_code, run_tests
    from stepreward.codegen._prompt import with_prompt_helpers
    from stepreward.scoring import extract_answer_block

    if not task.tests:
        return CodeScore(None, None, None, "not a code-generation task (no tests)")
    if isinstance(partial_tests, bool) or not isinstance(partial_tests, int) \
            or partial_tests < 1:
        raise ValueError(f"partial_tests must be an int >= 1, got {partial_tests!r}")
    if partial_seed is not None and (isinstance(partial_seed, bool)
                                     or not isinstance(partial_seed, int)):
        raise ValueError(f"partial_seed must be an int or None, got {partial_seed!r}")
    if extract_answer_block(text) is None:
        return CodeScore(0.0, None, None, "no closed <answer> block")
    code = extract_code(text, "answer_block") or extract_code(text, "raw")
    if code is None:
        return CodeScore(0.0, None, None, "empty <answer> block")
    # The prompt's own helpers are defined again after the completion: they win.
    report = run_tests(with_prompt_helpers(code, task), task.tests, sandbox=sandbox,
                       limits=_test_limits(timeout_s))
    if report.status != "ok":
        return CodeScore(0.0, report, code, report.reason)
    if report.passed == report.total:
        rate = 1.0
    else:
        counted = set(partial_test_indices(task, partial_tests, partial_seed))
        failed = sum(f.index in counted for f in report.failures)
        rate = (len(counted) - failed) / len(counted)
    reward = round(rate + format_bonus, 10) if rate > 0 else 0.0
    return CodeScore(reward, report, code, None)


def _method(text: str, task: CodeTask, **options: Any) -> CodeScore:
    return method_reward(text, task, **options)


# ------------------------------------------------------------------------------ the registry

_lock = threading.Lock()
_registry: dict[str, Preset] = {}
_option_names: frozenset[str] | None = None
# A read-only view of the registry: ``PRESETS["method"]``, ``sorted(PRESETS)``.
PRESETS: Mapping[str, Preset] = MappingProxyType(_registry)
# The preset a label of each kind gets when neither the caller nor the label names one.
DEFAULT_PRESETS: Mapping[LabelKind, str] = MappingProxyType(
    {"trace": "normalized", "code": "partial"})


def register_preset(preset: Preset, *, replace: bool = False) -> Preset:
    """Add ``preset`` to the registry (``replace=True`` to overwrite one of the same name).

    A stage-1 preset with a ``config`` is also known to :func:`stepreward.score` by name.

    Example:
        >>> register_preset(get_preset("normalized"))
        Traceback (most recent call last):
        ...
        ValueError: a preset named 'normalized' exists; pass replace=True to overwrite it
    """
    if not isinstance(preset, Preset):
        raise TypeError(f"register_preset takes a Preset, got {type(preset).__name__}")
    if not preset.name or not preset.name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"a preset name is letters, digits, '_' and '-', got {preset.name!r}")
    if preset.kind not in ("trace", "code"):
        raise ValueError(f"a preset's kind is 'trace' or 'code', got {preset.kind!r}")
    with _lock:
        if preset.name in _registry and not replace:
            raise ValueError(f"a preset named {preset.name!r} exists; pass replace=True to "
                             f"overwrite it")
        if preset.kind == "trace" and preset.config is not None:
            _scoring_presets()[preset.name] = preset.config
        _registry[preset.name] = preset
        globals()["_option_names"] = None
    return preset


def unregister_preset(name: str) -> None:
    """Remove a preset added with :func:`register_preset` (the built-in ones stay).

    Example:
        >>> unregister_preset("method")
        Traceback (most recent call last):
        ...
        ValueError: 'method' is a built-in preset
    """
    if name in _BUILT_IN:
        raise ValueError(f"{name!r} is a built-in preset")
    with _lock:
        preset = _registry.pop(name, None)
        globals()["_option_names"] = None
        if preset is not None and preset.kind == "trace" and preset.config is not None:
            _scoring_presets().pop(name, None)


def option_names() -> frozenset[str]:
    """Every option some registered preset takes.

    Example:
        >>> "partial_tests" in option_names()
        True
    """
    with _lock:
        known = _option_names
        if known is None:
            known = frozenset(k for p in _registry.values() for k in p.options)
            globals()["_option_names"] = known
        return known


def get_preset(name: str) -> Preset:
    """The preset registered as ``name``; ValueError naming the known ones otherwise.

    Example:
        >>> get_preset("all_or_nothing").kind
        'code'
    """
    try:
        return _registry[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown reward preset {name!r}; known: {sorted(_registry)}") from None


def preset_names(kind: LabelKind | None = None) -> tuple[str, ...]:
    """Registered preset names (of one kind, or all), sorted: the command line's choices.

    Example:
        >>> preset_names("code")
        ('all_or_nothing', 'method', 'partial')
    """
    return tuple(sorted(n for n, p in _registry.items() if kind is None or p.kind == kind))


for _preset in (
    Preset.trace("normalized", RewardConfig(),
                 "stage 1, in [0, 1]: 0.5 x the output (or input) answer + 0.5 x the step "
                 "answers, 0 unless the output answer is right"),
    Preset.trace("execverify", RewardConfig(scale=2.0),
                 "stage 1, the method's scale: normalized x 2, in [0, 2]"),
    Preset("execverify_reference", "trace",
           "stage 1, the reference implementation's reward with its quirks (for ablations)",
           _reference, {"sandbox": None}),
    Preset("partial", "code",
           "stage 2, partial credit: the share of tests passed (+ format_bonus on a pass)",
           _code_mode("pass_rate"), dict(CODE_OPTIONS)),
    Preset("all_or_nothing", "code",
           "stage 2: 1 when every test passes, else 0 (+ format_bonus on a pass)",
           _code_mode("all_or_nothing"), dict(CODE_OPTIONS)),
    Preset("method", "code",
           "stage 2, the method's: 1 when every test passes, else the pass rate over the "
           "first 10 tests; + 0.05 when above 0",
           _method, {"format_bonus": 0.05, "partial_tests": 10, "timeout_s": 1.0,
                     "sandbox": None, "partial_seed": None}),
):
    # Built in: the stage-1 ones are scoring's own presets already (nothing to import here).
    _registry[_preset.name] = _preset
_BUILT_IN = frozenset(_registry)
