"""TRL adapters: reward callables for ``GRPOTrainer`` and dataset helpers.

Reward functions follow TRL's convention: called with keyword arguments (``prompts``,
``completions``, dataset columns as per-completion lists, ``log_metric``, ``log_extra``),
returning one float per completion, or ``None`` where the row is of another kind. They never
raise and never hang: every failure is a reward of 0 with a reason in the completions table.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stepreward.scoring._parse import completion_text, extract_answer_block, split_answers
from stepreward.types import CodeTask, GradingPolicy, RewardConfig, Sample

__all__ = ["AsyncReward", "ExecutionReward", "FormatReward", "UnitTestReward", "code_task_rows",
           "sample_rows", "to_trl_dataset"]

log = logging.getLogger("stepreward.trl")


def _load_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _as_sample(value: Any) -> Sample | None:
    value = _load_json(value)
    if isinstance(value, Sample):
        return value
    if isinstance(value, dict) and "questions" in value and "prompt" in value:
        try:
            return Sample.from_row(value)
        except Exception:
            return None
    return None


def _as_task(value: Any) -> CodeTask | None:
    value = _load_json(value)
    if isinstance(value, CodeTask):
        return value
    if isinstance(value, dict) and "tests" in value:
        try:
            return CodeTask.model_validate(value)
        except Exception:
            return None
    return None


class _Reward:
    """Common machinery: column lookup, batch concurrency, metrics, never raising."""

    column = "sample"

    def __init__(self, name: str, column: str | None, max_concurrency: int) -> None:
        self.__name__ = name
        if column is not None:
            self.column = column
        self.max_concurrency = max(1, max_concurrency)

    def _one(self, text: str | None, item: Any) -> tuple[float | None, str, dict[str, float]]:
        raise NotImplementedError

    def _batch(self, texts: list[str | None], items: list[Any]) -> list[tuple[
            float | None, str, dict[str, float]]]:
        if len(texts) <= 1 or self.max_concurrency == 1:
            return [self._safe(t, it) for t, it in zip(texts, items, strict=True)]
        # Threads only wait: the sandbox pool's processes do the work concurrently.
        with ThreadPoolExecutor(min(self.max_concurrency, len(texts))) as pool:
            return list(pool.map(self._safe, texts, items))

    def _safe(self, text: str | None, item: Any) -> tuple[float | None, str, dict[str, float]]:
        try:
            return self._one(text, item)
        except Exception as exc:  # a reward must never take training down
            log.warning("%s failed on one completion: %r", self.__name__, exc)
            return 0.0, f"internal error: {type(exc).__name__}: {exc}", {}

    def __call__(self, prompts: Sequence[Any] | None = None,
                 completions: Sequence[Any] | None = None, **kwargs: Any) -> list[float | None]:
        return [r for r, _, _ in self.scored(prompts, completions, **kwargs)]

    def scored(self, prompts: Sequence[Any] | None = None,
               completions: Sequence[Any] | None = None,
               **kwargs: Any) -> list[tuple[float | None, str, dict[str, float]]]:
        """Like calling the reward, but per completion: the reward, the reason and the
        metrics behind it (``{kind}_accuracy`` for :class:`ExecutionReward`).

        Example:
            >>> ExecutionReward().scored(completions=["x"], sample=[None])
            [(None, 'not a stage-1 sample', {})]
        """
        completions = list(completions or [])
        n = len(completions)
        try:
            items = list(kwargs.get(self.column) or [None] * n)
            if len(items) != n:
                items = (items + [None] * n)[:n]
            texts = [completion_text(c) for c in completions]
            results = self._batch(texts, items)
        except Exception as exc:
            log.warning("%s failed on a batch: %r", self.__name__, exc)
            results = [(0.0, f"internal error: {exc!r}", {})] * n
        self._log(kwargs, results)
        return results

    def _log(self, kwargs: dict[str, Any], results: list[tuple[
            float | None, str, dict[str, float]]]) -> None:
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


class ExecutionReward(_Reward):
    """Stage-1 reward: grades answers to execution questions with :func:`stepreward.score`.

    Reads the sample (its row dict or JSON) from the ``column`` dataset column; rows without
    one (stage-2 rows, say) get ``None``. Logs output accuracy, accuracy per question kind,
    the unparsed rate and the share of completions without an answer block.

    Example:
        >>> reward = ExecutionReward()
        >>> reward.__name__
        'stepreward_execution'
    """

    def __init__(self, reward: str | RewardConfig = "normalized",
                 policy: GradingPolicy = "literal", float_tol: float = 0.0, *,
                 column: str = "sample", name: str = "stepreward_execution",
                 max_concurrency: int = 16) -> None:
        super().__init__(name, column, max_concurrency)
        self.reward = reward
        self.policy = policy
        self.float_tol = float_tol

    def _batch(self, texts: list[str | None], items: list[Any]) -> list[tuple[
            float | None, str, dict[str, float]]]:
        if self.policy == "literal" and self.reward != "execverify_reference":
            # Pure Python and fast: threads would only add overhead.
            return [self._safe(t, it) for t, it in zip(texts, items, strict=True)]
        return super()._batch(texts, items)

    def _one(self, text: str | None, item: Any) -> tuple[float | None, str, dict[str, float]]:
        from stepreward.scoring._score import score

        sample = _as_sample(item)
        if sample is None:
            return None, "not a stage-1 sample", {}
        if text is None:
            return 0.0, "completion is not text", {"no_answer_block": 1.0}
        sc = score(text, sample, reward=self.reward, policy=self.policy,
                   float_tol=self.float_tol)
        metrics = {f"{k}_accuracy": v for k, v in sc.components.items()
                   if v is not None and k != "format"}
        statuses = [v.status for v in sc.verdicts]
        if statuses:
            metrics["unparsed_rate"] = statuses.count("unparseable") / len(statuses)
            metrics["missing_rate"] = statuses.count("missing") / len(statuses)
        metrics["no_answer_block"] = float(sc.parse_error is not None)
        reason = sc.parse_error or ", ".join(
            f"{q.kind}:{v.status}" for q, v in zip(sample.questions, sc.verdicts, strict=True))
        return sc.reward, reason, metrics


class UnitTestReward(_Reward):
    """Stage-2 reward: the pass rate of the completion's code on the task's unit tests.

    Reads the task (a :class:`stepreward.CodeTask` dict or JSON) from the ``column`` column;
    rows without one get ``None``. Tests run concurrently on the sandbox pool.
    ``partial_tests=10, format_bonus=0.05`` is the method's reward: 1 when all tests pass,
    else the pass rate over the first 10 tests, and the bonus only when that is above 0;
    ``partial_seed`` draws those 10 per task with that seed instead of taking the first
    (which are usually the prompt's examples).

    Example:
        >>> UnitTestReward().__name__
        'stepreward_unit_tests'
    """

    column = "task"

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
        self.mode = mode
        self.format_bonus = format_bonus
        self.bonus_on_fail = bonus_on_fail
        self.extract = extract
        self.timeout_s = timeout_s
        if partial_seed is not None and partial_tests is None:
            raise ValueError("partial_seed draws the tests of partial_tests; set partial_tests")
        self.partial_tests = partial_tests
        self.partial_seed = partial_seed

    def _one(self, text: str | None, item: Any) -> tuple[float | None, str, dict[str, float]]:
        from stepreward.codegen._api import code_reward

        task = _as_task(item)
        if task is None or not task.tests:
            return None, "not a code-generation task", {}
        if self.partial_tests is not None:
            # The method's semantics (see stepreward.codegen._method.method_code_reward).
            from stepreward.codegen._method import method_code_reward

            sc = method_code_reward(text, task, format_bonus=self.format_bonus,
                                    partial_tests=self.partial_tests, timeout_s=self.timeout_s,
                                    partial_seed=self.partial_seed)
        else:
            sc = code_reward(text, task, mode=self.mode,  # type: ignore[arg-type]
                             format_bonus=self.format_bonus, bonus_on_fail=self.bonus_on_fail,
                             extract=self.extract,  # type: ignore[arg-type]
                             timeout_s=self.timeout_s)
        report = sc.report
        metrics = {"no_code": float(sc.code is None)}
        if report is not None:
            metrics["pass_rate"] = report.pass_rate
            # Tests skipped after a timeout count as timeouts (the completion loops).
            metrics["timeouts"] = sum(f.reason.startswith(("timed out", "not run: an earlier"))
                                      for f in report.failures) / max(1, report.total)
        reason = sc.parse_error or (f"{report.passed}/{report.total} tests passed"
                                    if report else "no report")
        return sc.reward, reason, metrics


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
               completions: Sequence[Any] | None = None,
               **kwargs: Any) -> list[tuple[float | None, str, dict[str, float]]]:
        n = len(completions or [])
        samples = list(kwargs.get(self.column) or [None] * n)
        tasks = list(kwargs.get(self.task_column) or [None] * n)
        items = [(s, t) for s, t in zip((samples + [None] * n)[:n], (tasks + [None] * n)[:n],
                                         strict=True)]
        return super().scored(prompts, completions, **{**kwargs, self.column: items})

    def _one(self, text: str | None, item: Any) -> tuple[float | None, str, dict[str, float]]:
        from stepreward.codegen._api import extract_code

        sample_value, task_value = item if isinstance(item, tuple) else (item, None)
        sample = _as_sample(sample_value)
        task = _as_task(task_value) if sample is None else None
        if sample is None and task is None:
            return None, "no sample or task", {}
        if text is None:
            return 0.0, "completion is not text", {}
        block = extract_answer_block(text)
        if block is None:
            return 0.0, "no closed <answer> block", {}
        if task is not None:
            ok = extract_code(text, "answer_block") is not None
            return float(ok), "code block" if ok else "no code block in the answer", {}
        assert sample is not None
        lines = split_answers(block).lines
        if len(lines) == len(sample.questions):
            return 1.0, "one answer per question", {}
        return 0.5, f"{len(lines)} answers for {len(sample.questions)} questions", {}


class AsyncReward:
    """An ``async`` version of a reward callable: TRL runs async rewards together on its event
    loop, so a slow reward (unit tests) overlaps with the others instead of following them.

    Example:
        >>> AsyncReward(UnitTestReward()).__name__
        'stepreward_unit_tests'
    """

    def __init__(self, reward: _Reward) -> None:
        self.reward = reward
        self.__name__ = reward.__name__

    async def __call__(self, prompts: Sequence[Any] | None = None,
                       completions: Sequence[Any] | None = None,
                       **kwargs: Any) -> list[float | None]:
        import asyncio

        # log_metric/log_extra only append to lists: safe to call from the worker thread.
        return await asyncio.to_thread(self.reward, prompts, completions, **kwargs)


# ---------------------------------------------------------------------------------- datasets


def sample_rows(rows: Sequence[dict[str, Any] | Sample], *, chat: bool = True,
                system_prompt: str | None = None) -> list[dict[str, Any]]:
    """Samples, rows of the synthesis builder or ``Sample.to_row()`` dicts in TRL's format.

    ``prompt`` is the chat form (``[{"role": "user", ...}]``) or plain text; ``sample`` holds
    the sample as JSON (the column :class:`ExecutionReward` reads).

    Example:
        >>> sample_rows([{"prompt": "Q?", "id": "x", "questions": "[]", "source": "",
        ...               "call": "f()"}], chat=False)[0]["prompt"]
        'Q?'
    """
    out = []
    for row in rows:
        if isinstance(row, Sample):
            sample: Sample | None = row
            row = {"level": None}  # noqa: PLW2901 - a Sample has no dataset columns
        elif isinstance(row, dict):
            sample = _as_sample(row.get("label", row))
        else:
            raise TypeError(f"sample_rows takes Sample objects or row dicts, got "
                            f"{type(row).__name__}")
        if sample is None:
            raise ValueError(f"row {row.get('id')!r} is not a sample row")
        messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
            {"role": "user", "content": sample.prompt}]
        out.append({"prompt": messages if chat else sample.prompt,
                    "sample": json.dumps(sample.to_row(), ensure_ascii=False),
                    "task": None, "level": row.get("level")})
    return out


def code_task_rows(tasks: Sequence[CodeTask], *, chat: bool = True,
                   instruction: str | None = None,
                   system_prompt: str | None = None) -> list[dict[str, Any]]:
    """Code tasks in TRL's GRPO format (``prompt`` and a ``task`` column as JSON).

    Example:
        >>> from stepreward.types import TestCase
        >>> rows = code_task_rows([CodeTask(task_id="t", prompt="Add.", entry_point="add",
        ...                                 tests=[TestCase.call("add", (1, 2), 3)])],
        ...                       system_prompt="Be careful.")
        >>> [m["role"] for m in rows[0]["prompt"]]
        ['system', 'user']
    """
    text = instruction or ("Write the solution in Python. Reason first if you like, then give "
                           "the complete code in one ```python block inside <answer> and "
                           "</answer>.")
    out = []
    for task in tasks:
        prompt = f"{task.prompt.rstrip()}\n\n{text}"
        system = [{"role": "system", "content": system_prompt}] if system_prompt else []
        out.append({"prompt": [*system, {"role": "user", "content": prompt}] if chat else prompt,
                    "sample": None, "task": task.model_dump_json(), "level": None})
    return out


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
