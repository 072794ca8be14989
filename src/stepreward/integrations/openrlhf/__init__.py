"""OpenRLHF adapters: the reward-function file, response extraction, the scoring core."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

__all__ = ["EXTRA_LOG_KEYS", "agent_file_path", "code_task_rows", "extract_response",
           "reward_file_path", "score_one"]

log = logging.getLogger("stepreward.openrlhf")

# The same keys on every call: OpenRLHF batches extra logs across samples by key.
EXTRA_LOG_KEYS = ("stepreward/stage1", "stepreward/stage2", "stepreward/output_accuracy",
                  "stepreward/step_accuracy", "stepreward/pass_rate", "stepreward/no_answer",
                  "stepreward/unparsed", "stepreward/errors")
_END_MARKERS = ("<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>", "<|end_of_text|>",
                "<｜end▁of▁sentence｜>", "<eos>", "<|end|>")
_ASSISTANT_MARKERS = ("<|im_start|>assistant", "<|start_header_id|>assistant<|end_header_id|>",
                      "<|assistant|>", "[/INST]")


def reward_file_path() -> str:
    """Path of the file to pass as OpenRLHF's ``--reward.remote_url``.

    Example:
        >>> reward_file_path().endswith("reward_func.py")
        True
    """
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "reward_func.py")


def agent_file_path() -> str:
    """Path of the multi-turn agent file for OpenRLHF's ``--train.agent_func_path``."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent_func.py")


def extract_response(query: str, prompt: str) -> str:
    """The model's response inside OpenRLHF's ``query`` (prompt + response, special tokens kept).

    The prompt is removed as a prefix; when OpenRLHF cut an over-long prompt from the left,
    the response starts after the prompt's tail, or after the last assistant-turn marker.
    Trailing end-of-turn tokens are stripped.

    Example:
        >>> extract_response("<|im_start|>user\\nQ<|im_end|>\\nA<|im_end|>",
        ...                  "<|im_start|>user\\nQ<|im_end|>\\n")
        'A'
    """
    start = _response_start(query, prompt)
    if start is not None:
        response = query[start:]
    else:
        response = query
        for marker in _ASSISTANT_MARKERS:
            at = query.rfind(marker)
            if at >= 0:
                response = query[at + len(marker):]
                break
    response = response.strip()
    changed = True
    while changed:
        changed = False
        for marker in _END_MARKERS:
            if response.endswith(marker):
                response = response[: -len(marker)].rstrip()
                changed = True
    return response


def _response_start(query: str, prompt: str) -> int | None:
    if not prompt:
        return None
    if query.startswith(prompt):
        return len(prompt)
    # Cut from the left: the query starts with a suffix of the prompt.
    head = query[:16]
    k = prompt.find(head) if head else -1
    while k >= 0:
        if query.startswith(prompt[k:]):
            return len(prompt) - k
        k = prompt.find(head, k + 1)
    return None


def score_one(response: str, label: Any) -> tuple[float, dict[str, float]]:
    """Reward one response against its label (a stage-1 sample row or a stage-2 code task,
    as a dict or JSON text); never raises. Returns the reward and the fixed extra logs."""
    logs = dict.fromkeys(EXTRA_LOG_KEYS, 0.0)
    try:
        data = json.loads(label) if isinstance(label, str) else label
        # Reward settings travel in the label (Ray actors do not see the driver's
        # environment): {"preset": ...} for stage 1, {"format_bonus", "partial_tests"} for 2.
        opts: dict[str, Any] = {}
        if isinstance(data, dict) and isinstance(data.get("reward_options"), dict):
            opts = data["reward_options"]
        if isinstance(data, dict):  # the curriculum's key rides in the label too
            data = {k: v for k, v in data.items() if k not in ("reward_options",
                                                               "curriculum_id")}
        if isinstance(data, dict) and "questions" in data:
            from stepreward.scoring._score import score

            logs["stepreward/stage1"] = 1.0
            sc = score(response, data, reward=str(opts.get("preset", "normalized")))
            logs["stepreward/output_accuracy"] = float(sc.components.get("output") or 0.0)
            steps = [v for q, v in zip(_questions(data), sc.verdicts, strict=False)
                     if q != "output"]
            logs["stepreward/step_accuracy"] = (sum(v.correct for v in steps) / len(steps)
                                                if steps else 0.0)
            logs["stepreward/no_answer"] = float(sc.parse_error is not None)
            logs["stepreward/unparsed"] = (sum(v.status == "unparseable" for v in sc.verdicts)
                                           / max(1, len(sc.verdicts)))
            return float(sc.reward), logs
        if isinstance(data, dict) and "tests" in data:
            from stepreward.codegen._api import code_reward
            from stepreward.types import CodeTask

            logs["stepreward/stage2"] = 1.0
            task = CodeTask.model_validate(data)
            if opts.get("partial_tests"):
                from stepreward.codegen._method import method_code_reward

                seed = opts.get("partial_seed")
                cs = method_code_reward(response, task, partial_tests=int(opts["partial_tests"]),
                                        format_bonus=float(opts.get("format_bonus", 0.05)),
                                        partial_seed=None if seed is None else int(seed))
            else:
                cs = code_reward(response, task,
                                 format_bonus=float(opts.get("format_bonus", 0.0)))
            logs["stepreward/pass_rate"] = cs.report.pass_rate if cs.report else 0.0
            logs["stepreward/no_answer"] = float(cs.code is None)
            return float(cs.reward or 0.0), logs
        logs["stepreward/errors"] = 1.0
        return 0.0, logs
    except Exception as exc:  # OpenRLHF only logs reward errors, then crashes much later
        log.warning("stepreward could not score a sample: %r", exc)
        logs["stepreward/errors"] = 1.0
        return 0.0, logs


def _questions(row: dict[str, Any]) -> list[str]:
    qs = row.get("questions")
    if isinstance(qs, str):
        qs = json.loads(qs)
    return [q.get("kind", "") for q in qs or []]


def code_task_rows(tasks: Any, instruction: str | None = None, *,
                   system_prompt: str | None = None,
                   reward_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Code tasks as OpenRLHF prompt rows: ``messages`` (the chat prompt) and ``label``.

    ``reward_options`` go into each label and select the reward in the reward file and
    server: ``{"partial_tests": 10, "format_bonus": 0.05}`` is the method's stage-2 reward.

    Example:
        >>> from stepreward.types import CodeTask, TestCase
        >>> rows = code_task_rows([CodeTask(task_id="t", prompt="Add.", entry_point="add",
        ...                                 tests=[TestCase.call("add", (1, 2), 3)])])
        >>> sorted(rows[0])
        ['label', 'messages', 'prompt']
    """
    text = instruction or ("Write the solution in Python. Reason first if you like, then give "
                           "the complete code in one ```python block inside <answer> and "
                           "</answer>.")
    rows = []
    for task in tasks:
        prompt = f"{task.prompt.rstrip()}\n\n{text}"
        system = [{"role": "system", "content": system_prompt}] if system_prompt else []
        label = task.model_dump_json()
        if reward_options:
            label = json.dumps({**json.loads(label), "reward_options": dict(reward_options)})
        rows.append({"prompt": prompt,
                     "messages": [*system, {"role": "user", "content": prompt}],
                     "label": label})
    return rows
