"""The ExecVerify taskset: questions about program runs, graded by stepreward's reward core."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import verifiers.v1 as vf
from pydantic import Field, field_validator

from stepreward.integrations.tasks import (
    ALL_LEVELS,
    TASK_KINDS,
    check_kinds,
    check_levels,
    generate_task,
    read_sample_rows,
    task_prompt,
)
from stepreward.rewards import RewardResult, areward_for, read_label
from stepreward.types import Sample

__all__ = ["ExecVerifyConfig", "ExecVerifyData", "ExecVerifyTask", "ExecVerifyTaskConfig",
           "ExecVerifyTaskset", "kind_metrics"]

# Graded results shared by a rollout's metric and reward (both read one grading): the metric
# runs first, the reward takes the result out. Bounded, for rollouts whose reward never runs.
_RESULTS: OrderedDict[str, asyncio.Future[RewardResult]] = OrderedDict()
_MAX_PENDING = 4096


class ExecVerifyData(vf.TaskData):
    """One task: the prompt, and the label the reward core grades against (a stage-1 sample
    row as JSON, as ``stepreward synth`` writes it)."""

    label: str
    """The sample row (JSON) with the questions and their gold answers."""
    level: int | None = None
    """The program's level (1-6), when known."""
    kinds: list[str] = Field(default_factory=list)
    """The question kinds the task asks."""


class ExecVerifyTaskConfig(vf.TaskConfig):
    """Scoring knobs, under ``--env.taskset.task.*``."""

    preset: str | None = None
    """Reward preset of stepreward (``normalized``, ``execverify``, ...); None: the one
    the label records, else ``normalized`` (in [0, 1])."""
    allow_code_execution: bool = False
    """Allow harnesses that let the model run code (``bash`` and the agent harnesses). The
    questions ask the model to work the run out, so by default such a harness is refused."""


def kind_metrics(result: RewardResult, kinds: list[str]) -> dict[str, float]:
    """The metrics a rollout records: the reward core's (every key of ``METRIC_KEYS``) and,
    per question kind, ``<kind>_asked`` (1.0 when the task asks it) and
    ``<kind>_accuracy`` (the share right, 0.0 when not asked). A run's accuracy on a kind
    is ``mean(<kind>_accuracy) / mean(<kind>_asked)``: missing keys would read as 0.

    Example:
        >>> from stepreward.rewards import reward_for
        >>> m = kind_metrics(reward_for("x", None), ["state"])
        >>> m["state_asked"], m["state_accuracy"], m["errors"]
        (1.0, 0.0, 1.0)
    """
    out = dict(result.metrics)
    for kind in TASK_KINDS:
        out[f"{kind}_asked"] = float(kind in kinds)
        out[f"{kind}_accuracy"] = float(result.per_kind.get(kind, 0.0))
    return out


class ExecVerifyTask(vf.Task[ExecVerifyData, vf.State, ExecVerifyTaskConfig]):
    """A question-answering task about one program run; the harness must not run code."""

    @property
    def key(self) -> str:
        return self.data.id or self.hash

    async def setup(self, trace: vf.Trace, runtime: vf.Runtime) -> None:
        if self.config.allow_code_execution:
            return
        harness = getattr(getattr(trace.agent, "config", None), "harness", None)
        harness_id = getattr(harness, "id", None)
        if not harness_id:
            return
        from verifiers.v1.utils.loaders import harness_class

        if harness_class(harness_id).EXECUTES_CODE:
            raise vf.TaskError(
                f"harness {harness_id!r} lets the model run code, and these tasks ask it to "
                f"work a run out without running it; use this package's harness (the default) "
                f"or set --env.taskset.task.allow-code-execution true")

    async def _graded(self, trace: vf.Trace) -> RewardResult:
        future = _RESULTS.get(trace.id)
        if future is None:
            future = asyncio.ensure_future(
                areward_for(trace.last_reply, self.data.label, preset=self.config.preset))
            _RESULTS[trace.id] = future
            while len(_RESULTS) > _MAX_PENDING:
                _RESULTS.popitem(last=False)
        return await future

    @vf.metric
    async def execverify_metrics(self, trace: vf.Trace) -> dict[str, float]:
        """The reward core's metrics and the per-kind accuracies (see :func:`kind_metrics`)."""
        return kind_metrics(await self._graded(trace), self.data.kinds)

    @vf.reward(weight=1.0)
    async def execverify(self, trace: vf.Trace) -> float:
        """The preset's reward for the last reply, graded off the event loop."""
        try:
            return (await self._graded(trace)).reward
        finally:
            _RESULTS.pop(trace.id, None)


class ExecVerifyConfig(vf.TasksetConfig):
    """Where tasks come from, under ``--env.taskset.*``: ``data`` (a ``stepreward synth``
    output directory or file) or, without it, tasks generated on the fly from ``seed``."""

    data: Path | None = None
    """A `stepreward synth` output directory (its `split` file is read) or one jsonl/parquet
    file. Unset: tasks are generated on the fly (task i from seed + i)."""
    split: str = "train"
    """Which file of a `stepreward synth` directory to read."""
    levels: list[int] = Field(default_factory=lambda: list(ALL_LEVELS))
    """Program levels (1-6) to keep or generate."""
    kinds: list[str] = Field(default_factory=lambda: ["output", "input", "next_statement",
                                                      "state"])
    """Question kinds a generated task may ask."""
    max_per_kind: int = Field(1, ge=1)
    """Questions per kind in a generated task."""
    mixed: bool = False
    """Generated tasks ask all kinds but input together (the method's I/O rows), or only
    input questions with probability `input_share` (its O/I rows). Off: one kind per task."""
    input_share: float = Field(0.375, ge=0.0, le=1.0)
    """Share of input-only tasks when `mixed`."""
    num_tasks: int | None = Field(1000, ge=1)
    """How many tasks to generate (None: without end, bound by the trainer or -n)."""
    seed: int = 0
    """Task i is generated from seed + i."""
    system_prompt_text: str | None = None
    """A system prompt for every task."""
    task: ExecVerifyTaskConfig = ExecVerifyTaskConfig()

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        return list(check_levels(value))

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        return list(check_kinds(value))


def _kinds_of(sample: Sample) -> list[str]:
    return list(dict.fromkeys(q.kind for q in sample.questions))


class ExecVerifyTaskset(vf.Taskset[ExecVerifyTask, ExecVerifyConfig]):
    """ExecVerify tasks: from ``stepreward synth`` files, or generated on the fly."""

    def __init__(self, config: ExecVerifyConfig) -> None:
        super().__init__(config)
        self.INFINITE = config.data is None and config.num_tasks is None

    def _task(self, sample: Sample, label: str, level: int | None, name: str) -> ExecVerifyTask:
        data = ExecVerifyData(id=name, name=name, prompt=task_prompt(sample),
                              system_prompt=self.config.system_prompt_text, label=label,
                              level=level, kinds=_kinds_of(sample))
        return ExecVerifyTask(data, self.config.task)

    def _from_files(self, path: Path) -> Iterator[ExecVerifyTask]:
        for n, row in enumerate(read_sample_rows(path, self.config.split, self.config.levels)):
            raw = row.get("label", row)
            label = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
            parsed = read_label(label)
            if parsed.kind != "trace" or not isinstance(parsed.item, Sample):
                raise ValueError(f"{path}: row {n} is not a stage-1 sample: "
                                 f"{parsed.reason}")
            yield self._task(parsed.item, label, row.get("level"),
                             str(row.get("id") or parsed.item.id or n))

    def _generated(self) -> Iterator[ExecVerifyTask]:
        cfg = self.config
        i = 0
        while cfg.num_tasks is None or i < cfg.num_tasks:
            made = generate_task(cfg.seed + i, cfg.levels, cfg.kinds,
                                 max_per_kind=cfg.max_per_kind, mixed=cfg.mixed,
                                 input_share=cfg.input_share)
            row: dict[str, Any] = made.sample.to_row()
            yield self._task(made.sample, json.dumps(row, ensure_ascii=False), made.level,
                             f"execverify-{cfg.seed + i}")
            i += 1

    def load(self) -> Iterator[ExecVerifyTask]:
        """The tasks, lazily: a view (``-n``, ``take``) builds only the ones it reads."""
        data = self.config.data
        return self._from_files(data) if data is not None else self._generated()
