"""OpenRLHF multi-turn agent: one stage-1 question per turn, each answer rewarded.

Pass this file's path as ``--train.agent_func_path`` (``agent_file_path()`` in
``stepreward.integrations.openrlhf`` returns it).
The label is a stage-1 sample row as JSON. The first observation holds the program, the call
and the first question; after each answer the environment grades it (with the question
kind's grader, nothing evaluated in-process), rewards ``1 / number of questions`` for a correct
answer, and asks the next question. Turn markers default to ChatML; set
``STEPREWARD_AGENT_TURN`` to another template with ``{content}`` to change them.
"""

from __future__ import annotations

import json
import os
from typing import Any

from openrlhf.utils.agent import AgentInstanceBase, MultiTurnAgentExecutor

_TURN = "<|im_end|>\n<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n"
_LOG_KEYS = ("stepreward/turn_correct", "stepreward/turn_unparsed", "stepreward/errors")
_MAX_TEXT = 4_000_000  # characters of an answer looked at (its end), as score() does


def _question_text(sample: Any, i: int) -> str:
    q = sample.questions[i]
    return (f"Question {i + 1} of {len(sample.questions)}: {q.text}\n"
            "Answer between <answer> and </answer>.")


class AgentInstance(AgentInstanceBase):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sample: Any = None
        self.turn = 0

    async def reset(self, states: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        from stepreward.questions._sample import number_lines
        from stepreward.types import Sample

        try:
            self.sample = Sample.from_row(json.loads(states["label"]))
        except Exception:
            self.sample = None
            return {"observation": states["observation"]}
        s = self.sample
        intro = (f"Here is a Python program and a call to it. I will ask about the run, one "
                 f"question at a time.\n\nProgram:\n{number_lines(s.source)}\n\n"
                 f"Call: {s.call.strip()}\n\n{_question_text(s, 0)}")
        # OpenRLHF's prompt already holds the chat framing (ending in the assistant turn);
        # the first question goes before the model's first answer.
        return {"observation": str(states["observation"]) + intro + "\n"}

    async def step(self, states: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Grade this turn's answer; never raises (a turn that cannot be graded earns 0,
        counts in ``stepreward/errors``, and the episode goes on to the next question)."""
        try:
            return await self._step(states, **kwargs)
        except Exception:  # MemoryError and RecursionError too: never into the rollout
            return self._failed_turn()

    def _failed_turn(self) -> dict[str, Any]:
        import torch

        logs = dict.fromkeys(_LOG_KEYS, 0.0)
        logs["stepreward/errors"] = 1.0
        logs["stepreward/turn_unparsed"] = 1.0
        s = self.sample
        n = len(s.questions) if s is not None and s.questions else 0
        self.turn += 1
        done = self.turn >= n
        feedback = "" if done else os.environ.get("STEPREWARD_AGENT_TURN", _TURN).format(
            content=_question_text(s, self.turn))
        return {"rewards": torch.tensor(0.0), "scores": torch.tensor(0.0),
                "environment_feedback": feedback, "done": done,
                "extra_logs": {k: torch.tensor(v) for k, v in logs.items()}}

    async def _step(self, states: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        import torch

        from stepreward.questions._kinds import get_kind
        from stepreward.scoring._parse import extract_answer_block, split_answers

        logs = dict.fromkeys(_LOG_KEYS, 0.0)
        s = self.sample
        if s is None or not s.questions:
            logs["stepreward/errors"] = 1.0
            return {"rewards": torch.tensor(0.0), "scores": torch.tensor(0.0),
                    "environment_feedback": "", "done": True,
                    "extra_logs": {k: torch.tensor(v) for k, v in logs.items()}}
        q = s.questions[self.turn]
        text = str(states.get("action_text", ""))[-_MAX_TEXT:]
        block = extract_answer_block(text)
        lines = split_answers(block).lines if block is not None else []
        if lines:
            verdict = get_kind(q.kind).grade(lines[0], q, source=s.source, call=s.call)
            correct, unparsed = verdict.correct, verdict.status == "unparseable"
        else:
            correct, unparsed = False, True
        logs["stepreward/turn_correct"] = float(correct)
        logs["stepreward/turn_unparsed"] = float(unparsed)
        reward = (1.0 / len(s.questions)) if correct else 0.0
        self.turn += 1
        done = self.turn >= len(s.questions)
        template = os.environ.get("STEPREWARD_AGENT_TURN", _TURN)
        feedback = "" if done else template.format(content=_question_text(s, self.turn))
        return {"rewards": torch.tensor(reward), "scores": torch.tensor(reward),
                "environment_feedback": feedback, "done": done,
                "extra_logs": {k: torch.tensor(v) for k, v in logs.items()}}


class AgentExecutor(MultiTurnAgentExecutor):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(AgentInstance)
