"""Prompt/label rows for any trainer: stage-1 samples and stage-2 code tasks, written once.

A row is ``{"id", "kind", "prompt", "label", "level"}``: ``prompt`` the chat messages (or the
text with ``chat=False``), ``label`` the sample row or the code task as JSON text, which
:func:`stepreward.rewards.reward_for` grades against. Framework adapters rename columns
(TRL's ``sample``/``task``, OpenRLHF's ``messages``/``label``, verl's ``reward_model``); the
prompts, the instruction and the label are the same everywhere.

Example:
    >>> from stepreward.types import CodeTask, TestCase
    >>> row = code_task_rows([CodeTask(task_id="t", prompt="Add.", entry_point="add",
    ...                                tests=[TestCase.call("add", (1, 2), 3)])])[0]
    >>> row["kind"], [m["role"] for m in row["prompt"]]
    ('code', ['user'])
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from stepreward.types import CodeTask, Sample

__all__ = ["CODE_INSTRUCTION", "code_task_rows", "messages", "multi_turn_intro",
           "sample_rows", "turn_question"]

CODE_INSTRUCTION = ("Write the solution in Python. Reason first if you like, then give the "
                    "complete code in one ```python block inside <answer> and </answer>.")


def messages(prompt: str, system_prompt: str | None = None) -> list[dict[str, str]]:
    """A user turn, after a system turn when ``system_prompt`` is given.

    Example:
        >>> [m["role"] for m in messages("Q", "Be brief.")]
        ['system', 'user']
    """
    return ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": prompt}]


def turn_question(sample: Sample, i: int) -> str:
    """Question ``i`` (from 0) of a sample as one turn of a multi-turn episode asks it.

    Example:
        >>> from stepreward.types import Question
        >>> s = Sample(id="x", source="", call="f()", prompt="", questions=[
        ...     Question(kind="output", text="What does f() return?", gold=1, gold_text="1")])
        >>> turn_question(s, 0).splitlines()[0]
        'Question 1 of 1: What does f() return?'
    """
    q = sample.questions[i]
    return (f"Question {i + 1} of {len(sample.questions)}: {q.text}\n"
            "Answer between <answer> and </answer>.")


def multi_turn_intro(sample: Sample) -> str:
    """The first user turn of a multi-turn episode: the program, the call, question 1.

    The call shows as ``f(??)`` when the sample asks an input question, whose answer it is
    (a sample mixing one with other kinds is a ValueError: see
    :func:`stepreward.questions.split_kinds`).

    Example:
        >>> from stepreward.types import Question
        >>> s = Sample(id="x", source="def f():\\n    return 1", call="f()", prompt="",
        ...            questions=[Question(kind="output", text="?", gold=1, gold_text="1")])
        >>> "1 | def f():" in multi_turn_intro(s)
        True
    """
    from stepreward.questions import number_lines, shown_call

    return (f"Here is a Python program and a call to it. I will ask about the run, one "
            f"question at a time.\n\nProgram:\n{number_lines(sample.source)}\n\n"
            f"Call: {shown_call(sample.call, sample.questions)}\n\n{turn_question(sample, 0)}")


def _label(body: dict[str, Any], envelope: Mapping[str, Any],
           reward_options: Mapping[str, Any] | None,
           label_extra: Mapping[str, Any] | None) -> str:
    out = {**body, **envelope}
    if reward_options:
        out["reward_options"] = dict(reward_options)
    if label_extra:
        out.update(label_extra)
    return json.dumps(out, ensure_ascii=False)


def _sample_of(row: Any) -> tuple[Sample, dict[str, Any], Any]:
    """The sample, the envelope of its label (reward options...) and the row's level."""
    if isinstance(row, Sample):
        return row, {}, None
    if not isinstance(row, dict):
        raise TypeError(f"sample_rows takes Sample objects or row dicts, got "
                        f"{type(row).__name__}")
    label = row.get("label", row)
    if isinstance(label, str):
        label = json.loads(label)
    if not isinstance(label, dict) or "questions" not in label:
        raise ValueError(f"row {row.get('id')!r} is not a sample row (no 'questions', in the "
                         f"row or in its 'label')")
    sample = Sample.from_row(label)
    # The reward options a label was written with stay with it; the dataset's other columns
    # do not belong in the label.
    envelope = {"reward_options": label["reward_options"]} if isinstance(
        label.get("reward_options"), dict) else {}
    return sample, envelope, row.get("level", label.get("level"))


def sample_rows(samples: Iterable[Sample | Mapping[str, Any]],
                system_prompt: str | None = None, *, chat: bool = True,
                reward_options: Mapping[str, Any] | None = None,
                label_extra: Mapping[str, Any] | None = None,
                multi_turn: bool = False) -> list[dict[str, Any]]:
    """Rows for stage-1 samples: :class:`Sample` objects, ``Sample.to_row()`` dicts, rows of
    ``stepreward synth`` (their ``label`` is read, with the reward options it carries).

    ``reward_options`` (``{"preset": "execverify"}``) and ``label_extra`` (other keys an
    adapter reads) go into each label. ``multi_turn=True`` writes the first turn of a
    multi-turn episode (:func:`multi_turn_intro`) instead of the whole sample's prompt.

    Example:
        >>> from stepreward.types import Question
        >>> s = Sample(id="x", source="", call="f()", prompt="Q?", questions=[
        ...     Question(kind="output", text="?", gold=1, gold_text="1")])
        >>> row = sample_rows([s], chat=False, reward_options={"preset": "execverify"})[0]
        >>> row["prompt"], json.loads(row["label"])["reward_options"]
        ('Q?', {'preset': 'execverify'})
    """
    out = []
    for item in samples:
        sample, envelope, level = _sample_of(item)
        prompt = multi_turn_intro(sample) if multi_turn else sample.prompt
        if multi_turn and not sample.questions:
            raise ValueError(f"sample {sample.id!r} has no questions to ask turn by turn")
        out.append({"id": sample.id, "kind": "trace",
                    "prompt": messages(prompt, system_prompt) if chat else prompt,
                    "label": _label(sample.to_row(), envelope, reward_options, label_extra),
                    "level": level})
    return out


def code_task_rows(tasks: Iterable[CodeTask], system_prompt: str | None = None,
                   instruction: str | None = None, *, chat: bool = True,
                   reward_options: Mapping[str, Any] | None = None,
                   label_extra: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows for stage-2 code tasks: the task's prompt followed by ``instruction`` (default
    :data:`CODE_INSTRUCTION`), the task as the label.

    ``reward_options`` (``{"preset": "method"}``) go into each label.

    Example:
        >>> from stepreward.types import TestCase
        >>> t = CodeTask(task_id="t", prompt="Add.", tests=[TestCase.call("add", (1, 2), 3)])
        >>> code_task_rows([t], chat=False, instruction="Go.")[0]["prompt"]
        'Add.\\n\\nGo.'
    """
    text = instruction or CODE_INSTRUCTION
    out = []
    for task in tasks:
        if not isinstance(task, CodeTask):
            raise TypeError(f"code_task_rows takes CodeTask objects, got {type(task).__name__}")
        prompt = f"{task.prompt.rstrip()}\n\n{text}"
        out.append({"id": task.task_id, "kind": "code",
                    "prompt": messages(prompt, system_prompt) if chat else prompt,
                    "label": _label(task.model_dump(mode="json"), {}, reward_options,
                                    label_extra),
                    "level": None})
    return out

