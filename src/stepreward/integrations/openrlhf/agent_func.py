"""OpenRLHF multi-turn agent: one stage-1 question per turn, each answer rewarded.

Pass this file's path as ``--train.agent_func_path`` (``agent_file_path()`` in
``stepreward.integrations.openrlhf`` returns it) and write the rows with ``agent_rows``.
The label is a stage-1 sample row as JSON. The user turn holds the program, the call and the
first question; after each answer the environment grades it (:func:`reward_for_turn`,
nothing evaluated in-process), pays the preset's reward for that question over the number of
questions, and asks the next question in a new user turn, written with the label's
``openrlhf.turn`` template (default ChatML).

OpenRLHF sums the per-turn ``rewards`` but keeps only the last step's ``scores`` and
``extra_logs``, so every step returns those of the whole episode so far: the share of the
sample's questions answered right (``openrlhf.scores: binary``: 1 only when all are), and the
metrics over every turn, with questions not reached counted as unanswered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from openrlhf.utils.agent import AgentInstanceBase, MultiTurnAgentExecutor

log = logging.getLogger("stepreward.openrlhf")


def _usable_template(template: Any) -> bool:
    """Whether a label's turn template formats with ``content`` alone (``{other}`` or a lone
    brace would raise at every turn)."""
    if not isinstance(template, str) or "{content}" not in template:
        return False
    try:
        template.format(content="")
    except (ValueError, KeyError, IndexError, AttributeError):
        return False
    return True


class AgentInstance(AgentInstanceBase):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.label: Any = None
        self.sample: Any = None
        self.turn_template = ""
        self.turns: list[Any] = []
        self.paid: list[float] = []

    async def reset(self, states: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        from stepreward.integrations.openrlhf import CHATML_TURN, _openrlhf_options
        from stepreward.questions import check_kinds
        from stepreward.rewards import read_label
        from stepreward.rows import multi_turn_intro, turn_question

        observation = str(states["observation"])
        self.label = states.get("label")
        lab = read_label(self.label)
        if lab.kind != "trace" or not getattr(lab.item, "questions", None):
            return {"observation": observation}
        try:
            check_kinds([q.kind for q in getattr(lab.item, "questions", [])])
        except ValueError as exc:  # an input question's answer would be in its own prompt
            log.warning("label refused, reward 0: %s", exc)
            return {"observation": observation}
        self.sample = lab.item
        template = _openrlhf_options(self.label).get("turn", CHATML_TURN)
        self.turn_template = template if _usable_template(template) else CHATML_TURN
        if turn_question(self.sample, 0) in observation:
            return {"observation": observation}  # agent_rows put it in the user turn
        # Rows written for single-turn training: the first question goes at the end of the
        # user turn, before the assistant turn the prompt ends with (the template's tail).
        intro = multi_turn_intro(self.sample)
        opener = self.turn_template.split("{content}", 1)[1]
        if opener and observation.endswith(opener):
            cut = len(observation) - len(opener)
            return {"observation": f"{observation[:cut]}\n\n{intro}{opener}"}
        log.warning("the prompt does not end with the turn template's assistant opener %r; "
                    "the first question follows it as text", opener)
        return {"observation": f"{observation}{intro}\n"}

    def _episode(self) -> tuple[float, dict[str, float]]:
        from stepreward.integrations.openrlhf import extra_logs, scores_of
        from stepreward.rewards import episode_result

        ep = episode_result(self.label, self.turns, self.paid)
        return scores_of(ep, self.label), extra_logs(ep)

    async def step(self, states: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Grade this turn's answer and ask the next question. Never raises: a turn that
        cannot be graded earns 0, counts in ``stepreward/errors``, and the episode goes on."""
        try:
            return await self._step(states)
        except Exception as exc:  # MemoryError and RecursionError too: never into the rollout
            log.warning("stepreward could not grade a turn: %r", exc)
            return self._failed_turn(exc)

    def _failed_turn(self, exc: BaseException) -> dict[str, Any]:
        import torch

        from stepreward.integrations.openrlhf import CHATML_TURN, EXTRA_LOG_KEYS
        from stepreward.rewards import METRIC_KEYS, RewardResult
        from stepreward.rows import turn_question

        metrics = dict.fromkeys(METRIC_KEYS, 0.0)
        metrics.update(stage1=1.0, errors=1.0)
        self.turns.append(RewardResult(0.0, 0.0, False, metrics, f"could not grade the turn: "
                                       f"{type(exc).__name__}", "trace"))
        self.paid.append(0.0)
        n = len(self.sample.questions) if self.sample is not None else 0
        done = len(self.turns) >= n
        feedback = ""
        if not done:
            try:
                feedback = (self.turn_template or CHATML_TURN).format(
                    content=turn_question(self.sample, len(self.turns)))
            except Exception:
                done = True
        try:
            score, logs = self._episode()
        except Exception:
            score, logs = 0.0, dict.fromkeys(EXTRA_LOG_KEYS, 0.0)
            logs["stepreward/errors"] = 1.0
        return {"rewards": torch.tensor(0.0), "scores": torch.tensor(score),
                "environment_feedback": feedback, "done": done,
                "extra_logs": {k: torch.tensor(v) for k, v in logs.items()}}

    async def _step(self, states: dict[str, Any]) -> dict[str, Any]:
        import torch

        from stepreward.rewards import reward_for_turn
        from stepreward.rows import turn_question

        if self.sample is None:
            from stepreward.integrations.openrlhf import extra_logs
            from stepreward.rewards import reward_for

            logs = extra_logs(reward_for(states.get("action_text", ""), self.label))
            return {"rewards": torch.tensor(0.0), "scores": torch.tensor(0.0),
                    "environment_feedback": "", "done": True,
                    "extra_logs": {k: torch.tensor(v) for k, v in logs.items()}}
        n = len(self.sample.questions)
        turn = len(self.turns)
        # Grading may run the program in the sandbox (input questions): off the event loop.
        r = await asyncio.to_thread(reward_for_turn, str(states.get("action_text", "")),
                                    self.label, turn)
        self.turns.append(r)
        self.paid.append(r.reward / n)
        done = len(self.turns) >= n
        feedback = "" if done else self.turn_template.format(
            content=turn_question(self.sample, len(self.turns)))
        score, logs = self._episode()
        return {"rewards": torch.tensor(r.reward / n), "scores": torch.tensor(score),
                "environment_feedback": feedback, "done": done,
                "extra_logs": {k: torch.tensor(v) for k, v in logs.items()}}


class AgentExecutor(MultiTurnAgentExecutor):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(AgentInstance)
