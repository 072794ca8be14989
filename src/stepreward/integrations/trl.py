"""TRL adapters: reward callables for ``GRPOTrainer`` and dataset helpers.

Reward functions follow TRL's convention: called with keyword arguments (``prompts``,
``completions``, dataset columns as per-completion lists, ``log_metric``, ``log_extra``),
returning one float per completion, or ``None`` where the row is of another kind. They never
raise and never hang: every failure is a reward of 0 with a reason in the completions table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from stepreward.presets import get_preset
from stepreward.rewards import METRICS_BY_KIND, RewardResult, read_label, reward_many
from stepreward.types import CodeTask, GradingPolicy, RewardConfig, Sample

__all__ = ["AsyncReward", "ExecVerifyEnv", "ExecutionReward", "FormatReward", "UnitTestReward",
           "code_task_rows", "concurrent_rewards", "env_rows", "run_python", "sample_rows",
           "to_trl_dataset"]

log = logging.getLogger("stepreward.trl")

Scored = tuple[float | None, str, dict[str, float]]


def trl_metrics(r: RewardResult) -> dict[str, float]:
    """What a reward logs per completion: the core's metrics that apply to the label's kind
    (:data:`stepreward.rewards.METRICS_BY_KIND`) and ``{kind}_accuracy`` per question kind.

    Example:
        >>> from stepreward.rewards import reward_for
        >>> sorted(trl_metrics(reward_for("x", None)))
        ['errors']
    """
    out = {k: r.metrics[k] for k in METRICS_BY_KIND[r.kind]
           if k not in ("output_accuracy", "input_accuracy", "step_accuracy")}
    out.update({f"{kind}_accuracy": v for kind, v in r.per_kind.items()})
    return out


class _Reward:
    """Common machinery: column lookup, the core's batch call, metrics, never raising."""

    column = "sample"
    kind = "trace"
    not_applicable = "not a stage-1 sample"

    def __init__(self, name: str, column: str | None, max_concurrency: int) -> None:
        self.__name__ = name
        if column is not None:
            self.column = column
        self.max_concurrency = max(1, max_concurrency)
        self.preset: Any = None
        self.options: dict[str, Any] = {}

    def _batch(self, completions: list[Any], items: list[Any]) -> list[Scored]:
        mine = [i for i, item in enumerate(items) if read_label(item).kind == self.kind]
        results = reward_many([completions[i] for i in mine], [items[i] for i in mine],
                              preset=self.preset, max_concurrency=self.max_concurrency,
                              **self.options)
        out: list[Scored] = [(None, self.not_applicable, {})] * len(items)
        for i, r in zip(mine, results, strict=True):
            out[i] = (r.reward, r.reason or "all correct", trl_metrics(r))
        return out

    def __call__(self, prompts: Sequence[Any] | None = None,
                 completions: Sequence[Any] | None = None, **kwargs: Any) -> list[float | None]:
        return [r for r, _, _ in self.scored(prompts, completions, **kwargs)]

    def scored(self, prompts: Sequence[Any] | None = None,
               completions: Sequence[Any] | None = None, **kwargs: Any) -> list[Scored]:
        """Like calling the reward, but per completion: the reward, the reason and the
        metrics behind it (:func:`trl_metrics`).

        Example:
            >>> ExecutionReward().scored(completions=["x"], sample=[None])
            [(None, 'not a stage-1 sample', {})]
        """
        completions = list(completions or [])
        n = len(completions)
        try:
            items = list(kwargs.get(self.column) or [None] * n)
            results = self._batch(completions, (items + [None] * n)[:n])
        except Exception as exc:  # a reward must never take training down
            log.warning("%s failed on a batch: %r", self.__name__, exc)
            results = [(0.0, f"internal error: {exc!r}", {})] * n
        self._log(kwargs, results)
        return results

    def _log(self, kwargs: dict[str, Any], results: list[Scored]) -> None:
        log_metric = kwargs.get("log_metric")
        log_extra = kwargs.get("log_extra")
        try:
            if callable(log_extra):
                log_extra(f"{self.__name__}_reason", [why for _, why, _ in results])
            if callable(log_metric):
                sums: dict[str, list[float]] = {}
                for _, _, metrics in results:
                    for key, value in metrics.items():
                        sums.setdefault(key, []).append(value)
                for key, values in sums.items():
                    log_metric(f"{self.__name__}/{key}", sum(values) / len(values))
        except Exception as exc:
            log.warning("%s could not log metrics: %r", self.__name__, exc)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.__name__!r}, column={self.column!r})"


def _check_preset(preset: Any, kind: str) -> None:
    """Fail at construction, not on every completion, for a preset the rows cannot use."""
    if isinstance(preset, RewardConfig):
        return
    if get_preset(preset).kind != kind:
        raise ValueError(f"preset {preset!r} does not grade "
                         f"{'stage-1 samples' if kind == 'trace' else 'code tasks'}")


class ExecutionReward(_Reward):
    """Stage-1 reward: :func:`stepreward.rewards.reward_for` with a stage-1 preset.

    Reads the sample (its row dict or JSON) from the ``column`` dataset column; rows without
    one (stage-2 rows, say) get ``None``. ``extraction="lenient"`` also reads an unclosed
    answer block at the end or the last fenced block (for a first RL stage on a model that
    was never taught the format; no format credit either way). Logs the accuracy per question
    kind, the share of right answers, the unparsed share and the share of completions without
    an answer block.

    Example:
        >>> reward = ExecutionReward()
        >>> reward.__name__
        'stepreward_execution'
    """

    def __init__(self, reward: str | RewardConfig = "normalized",
                 policy: GradingPolicy = "literal", float_tol: float = 0.0, *,
                 column: str = "sample", name: str = "stepreward_execution",
                 max_concurrency: int = 16,
                 extraction: Literal["strict", "lenient"] = "strict") -> None:
        super().__init__(name, column, max_concurrency)
        _check_preset(reward, "trace")
        if policy not in ("literal", "execute"):
            raise ValueError(f"policy must be 'literal' or 'execute', got {policy!r}")
        if extraction not in ("strict", "lenient"):
            raise ValueError(f"extraction must be 'strict' or 'lenient', got {extraction!r}")
        self.reward = self.preset = reward
        self.policy = policy
        self.float_tol = float_tol
        self.extraction = extraction
        self.options = {"policy": policy, "float_tol": float_tol, "extraction": extraction}


class UnitTestReward(_Reward):
    """Stage-2 reward: the unit tests a completion's code passes, through
    :func:`stepreward.rewards.reward_for` with a stage-2 preset.

    Reads the task (a :class:`stepreward.CodeTask` dict or JSON) from the ``column`` column;
    rows without one get ``None``. Tests run concurrently on the sandbox pool. ``mode``
    ``pass_rate`` is the ``partial`` preset, ``all_or_nothing`` the one of that name;
    ``partial_tests=10, format_bonus=0.05`` is the ``method`` preset (1 when all tests pass,
    else the pass rate over the first 10 tests, the bonus only when that is above 0);
    ``partial_seed`` draws those 10 per task with that seed instead of taking the first
    (which are usually the prompt's examples).

    Example:
        >>> UnitTestReward().__name__
        'stepreward_unit_tests'
    """

    column = "task"
    kind = "code"
    not_applicable = "not a code-generation task"

    def __init__(self, mode: str = "pass_rate", format_bonus: float = 0.0,
                 bonus_on_fail: bool = False, extract: str = "answer_block", *,
                 timeout_s: float = 1.0, column: str = "task",
                 name: str = "stepreward_unit_tests", max_concurrency: int = 16,
                 partial_tests: int | None = None, partial_seed: int | None = None) -> None:
        super().__init__(name, column, max_concurrency)
        if partial_tests is not None and (mode != "pass_rate" or bonus_on_fail
                                          or extract != "answer_block"):
            raise ValueError("partial_tests is the method's reward (pass rate over the first "
                             "tests, bonus only on a pass, code from the answer block); it "
                             "takes no mode, bonus_on_fail or extract")
        if partial_tests is not None and partial_tests < 1:
            raise ValueError("partial_tests must be >= 1")
        if partial_seed is not None and partial_tests is None:
            raise ValueError("partial_seed draws the tests of partial_tests; set partial_tests")
        if mode not in ("pass_rate", "all_or_nothing"):
            raise ValueError(f"mode must be 'pass_rate' or 'all_or_nothing', got {mode!r}")
        self.mode = mode
        self.format_bonus = format_bonus
        self.bonus_on_fail = bonus_on_fail
        self.extract = extract
        self.timeout_s = timeout_s
        self.partial_tests = partial_tests
        self.partial_seed = partial_seed
        if partial_tests is not None:
            self.preset = "method"
            self.options = {"format_bonus": format_bonus, "partial_tests": partial_tests,
                            "timeout_s": timeout_s, "partial_seed": partial_seed}
        else:
            self.preset = "partial" if mode == "pass_rate" else "all_or_nothing"
            self.options = {"format_bonus": format_bonus, "bonus_on_fail": bonus_on_fail,
                            "extract": extract, "timeout_s": timeout_s}


class FormatReward(_Reward):
    """1.0 for one answer line per question inside a closed ``<answer>`` block, 0.5 for a
    block with another number of lines, 0 without one; for code tasks, 1.0 for a fenced code
    block inside the answer block. ``None`` for rows of neither kind.

    Example:
        >>> FormatReward()(completions=["<answer>\\n1\\n</answer>"], sample=[None])
        [None]
    """

    def __init__(self, *, column: str = "sample", task_column: str = "task",
                 name: str = "stepreward_format") -> None:
        super().__init__(name, column, 1)
        self.task_column = task_column

    def scored(self, prompts: Sequence[Any] | None = None,
               completions: Sequence[Any] | None = None, **kwargs: Any) -> list[Scored]:
        n = len(completions or [])
        samples = list(kwargs.get(self.column) or [None] * n)
        tasks = list(kwargs.get(self.task_column) or [None] * n)
        items = list(zip((samples + [None] * n)[:n], (tasks + [None] * n)[:n], strict=True))
        return super().scored(prompts, completions, **{**kwargs, self.column: items})

    def _batch(self, completions: list[Any], items: list[Any]) -> list[Scored]:
        return [self._one(c, item) for c, item in zip(completions, items, strict=True)]

    def _one(self, completion: Any, item: Any) -> Scored:
        from stepreward.codegen import extract_code
        from stepreward.scoring import completion_text, extract_answer_block, split_answers

        sample_value, task_value = item if isinstance(item, tuple) else (item, None)
        label = read_label(sample_value)
        if label.kind != "trace":
            label = read_label(task_value)
        if label.kind == "invalid":
            return None, "no sample or task", {}
        text = completion_text(completion)
        if text is None:
            return 0.0, "completion is not text", {}
        block = extract_answer_block(text)
        if block is None:
            return 0.0, "no closed <answer> block", {}
        if isinstance(label.item, CodeTask):
            ok = extract_code(text, "answer_block") is not None
            return float(ok), "code block" if ok else "no code block in the answer", {}
        asked = len(label.item.questions) if isinstance(label.item, Sample) else 0
        lines = split_answers(block).lines
        if len(lines) == asked:
            return 1.0, "one answer per question", {}
        return 0.5, f"{len(lines)} answers for {asked} questions", {}


# ---------------------------------------------------------------------------------- datasets


def sample_rows(rows: Sequence[dict[str, Any] | Sample], *, chat: bool = True,
                system_prompt: str | None = None) -> list[dict[str, Any]]:
    """:func:`stepreward.rows.sample_rows` in TRL's columns: ``prompt`` (chat messages or
    text), ``sample`` (the label: the sample as JSON, which :class:`ExecutionReward` reads),
    ``task`` (None) and ``level``.

    Example:
        >>> sample_rows([{"prompt": "Q?", "id": "x", "questions": "[]", "source": "",
        ...               "call": "f()"}], chat=False)[0]["prompt"]
        'Q?'
    """
    from stepreward import rows as neutral

    return [{"prompt": r["prompt"], "sample": r["label"], "task": None, "level": r["level"]}
            for r in neutral.sample_rows(rows, system_prompt, chat=chat)]


def code_task_rows(tasks: Sequence[CodeTask], *, chat: bool = True,
                   instruction: str | None = None,
                   system_prompt: str | None = None) -> list[dict[str, Any]]:
    """:func:`stepreward.rows.code_task_rows` in TRL's columns (``prompt``, ``task`` as
    JSON, which :class:`UnitTestReward` reads, ``sample`` None).

    Example:
        >>> from stepreward.types import TestCase
        >>> rows = code_task_rows([CodeTask(task_id="t", prompt="Add.", entry_point="add",
        ...                                 tests=[TestCase.call("add", (1, 2), 3)])],
        ...                       system_prompt="Be careful.")
        >>> [m["role"] for m in rows[0]["prompt"]]
        ['system', 'user']
    """
    from stepreward import rows as neutral

    return [{"prompt": r["prompt"], "sample": None, "task": r["label"], "level": None}
            for r in neutral.code_task_rows(tasks, system_prompt, instruction, chat=chat)]


def to_trl_dataset(rows: Sequence[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` from rows made by :func:`sample_rows` / :func:`code_task_rows`.

    Needs ``pip install 'stepreward[trl]'``.
    """
    try:
        import datasets
    except ImportError:
        raise ImportError("to_trl_dataset needs the datasets package: "
                          "pip install 'stepreward[trl]'") from None
    return datasets.Dataset.from_list(list(rows))


# The environment, the tool and the concurrency helpers live in their own modules.
from stepreward.integrations.trl_async import AsyncReward, concurrent_rewards  # noqa: E402
from stepreward.integrations.trl_env import ExecVerifyEnv, env_rows, run_python  # noqa: E402
