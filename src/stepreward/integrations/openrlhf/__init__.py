"""OpenRLHF adapters: the reward-function file, the agent, response extraction, row writers.

Everything grades through :func:`stepreward.rewards.reward_for`. OpenRLHF options that must
reach its Ray actors travel in each label under ``"openrlhf"`` (the actors do not see the
driver's environment): ``{"scores": "share" | "binary", "turn": "<template with {content}>"}``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from stepreward.rewards import METRIC_KEYS, RewardResult, read_label, reward_for

__all__ = ["CHATML_TURN", "EXTRA_LOG_KEYS", "agent_file_path", "agent_rows", "code_task_rows",
           "extra_logs", "extract_response", "reward_file_path", "sample_rows", "score_one",
           "score_response", "scores_of"]

log = logging.getLogger("stepreward.openrlhf")

# The same keys on every call: OpenRLHF batches extra logs across samples by key.
EXTRA_LOG_KEYS = tuple(f"stepreward/{k}" for k in METRIC_KEYS)
# A new user turn after the model's answer, ending in the next assistant turn (ChatML).
CHATML_TURN = "<|im_end|>\n<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n"
SCORE_MODES = ("share", "binary")
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


def extra_logs(r: RewardResult) -> dict[str, float]:
    """A result's metrics under OpenRLHF's log names (:data:`EXTRA_LOG_KEYS`).

    Example:
        >>> sorted(extra_logs(reward_for("x", None))) == sorted(EXTRA_LOG_KEYS)
        True
    """
    return {f"stepreward/{k}": v for k, v in r.metrics.items()}


def _openrlhf_options(label: Any) -> Mapping[str, Any]:
    options = read_label(label).envelope.get("openrlhf")
    return options if isinstance(options, Mapping) else {}


def scores_of(r: RewardResult, label: Any) -> float:
    """OpenRLHF's ``scores`` for a result: the raw correctness, not the shaped reward, so
    that dynamic filtering (keep a group when ``0 < mean(scores) < 1``) judges what was
    solved. The label's ``openrlhf.scores`` picks the share of right answers or tests
    (``share``, the default) or 1/0 for all right (``binary``).

    Example:
        >>> scores_of(reward_for("x", None), None)
        0.0
    """
    mode = _openrlhf_options(label).get("scores", "share")
    return float(r.correct) if mode == "binary" else float(r.score)


def score_response(response: str, label: Any) -> tuple[float, float, dict[str, float]]:
    """``(reward, scores, extra_logs)`` for one response; never raises.

    Example:
        >>> score_response("x", "not json")[2]["stepreward/errors"]
        1.0
    """
    r = reward_for(response, label)
    return r.reward, scores_of(r, label), extra_logs(r)


def score_one(response: str, label: Any) -> tuple[float, dict[str, float]]:
    """Reward one response against its label (a stage-1 sample row or a stage-2 code task,
    as a dict or JSON text, with its preset in ``reward_options``); never raises. Returns the
    reward and the fixed extra logs.

    Example:
        >>> score_one("x", "not json")[0]
        0.0
    """
    reward, _, logs = score_response(response, label)
    return reward, logs


def _label_extra(scores: str | None, turn: str | None) -> dict[str, Any] | None:
    if scores is not None and scores not in SCORE_MODES:
        raise ValueError(f"scores must be one of {SCORE_MODES}, got {scores!r}")
    if turn is not None and "{content}" not in turn:
        raise ValueError("the turn template must contain {content}")
    options = {k: v for k, v in (("scores", scores), ("turn", turn)) if v is not None}
    return {"openrlhf": options} if options else None


def _method_options(options: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not options:
        return None
    out = dict(options)
    if "preset" not in out and out.get("partial_tests"):
        out["preset"] = "method"  # {"partial_tests": 10, ...} names the method's reward
    return out


def _openrlhf_row(row: dict[str, Any]) -> dict[str, Any]:
    user = [m["content"] for m in row["prompt"] if m["role"] == "user"]
    return {"prompt": user[-1], "messages": row["prompt"], "label": row["label"]}


def code_task_rows(tasks: Iterable[Any], instruction: str | None = None, *,
                   system_prompt: str | None = None,
                   reward_options: Mapping[str, Any] | None = None,
                   scores: str | None = None) -> list[dict[str, Any]]:
    """Code tasks as OpenRLHF prompt rows: ``messages`` (the chat prompt), ``prompt`` (its
    user turn) and ``label`` (:func:`stepreward.rows.code_task_rows`).

    ``reward_options`` go into each label and select the preset in the reward file and
    server: ``{"preset": "method"}`` (or ``{"partial_tests": 10, "format_bonus": 0.05}``) is
    the method's stage-2 reward. ``scores`` (``share``/``binary``): see :func:`scores_of`.

    Example:
        >>> from stepreward.types import CodeTask, TestCase
        >>> rows = code_task_rows([CodeTask(task_id="t", prompt="Add.", entry_point="add",
        ...                                 tests=[TestCase.call("add", (1, 2), 3)])])
        >>> sorted(rows[0])
        ['label', 'messages', 'prompt']
    """
    from stepreward import rows

    return [_openrlhf_row(r) for r in rows.code_task_rows(
        tasks, system_prompt, instruction, reward_options=_method_options(reward_options),
        label_extra=_label_extra(scores, None))]


def sample_rows(samples: Iterable[Any], *, system_prompt: str | None = None,
                reward_options: Mapping[str, Any] | None = None,
                scores: str | None = None) -> list[dict[str, Any]]:
    """Stage-1 samples (or rows of ``stepreward synth``) as OpenRLHF prompt rows, as
    :func:`code_task_rows` writes them; ``reward_options`` as ``{"preset": "execverify"}``.

    Example:
        >>> sample_rows([])
        []
    """
    from stepreward import rows

    return [_openrlhf_row(r) for r in rows.sample_rows(
        samples, system_prompt, reward_options=reward_options,
        label_extra=_label_extra(scores, None))]


def agent_rows(samples: Iterable[Any], *, system_prompt: str | None = None,
               turn: str = CHATML_TURN, scores: str | None = None,
               reward_options: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows for the multi-turn agent (:func:`agent_file_path`): the user turn holds the
    program, the call and the first question; the label carries ``turn``, the chat text
    that closes the model's answer and asks the next question (``{content}``: the question),
    which must match the model's chat template (default: ChatML).

    Example:
        >>> agent_rows([], turn="no placeholder")
        Traceback (most recent call last):
        ...
        ValueError: the turn template must contain {content}
    """
    from stepreward import rows

    extra = _label_extra(scores, turn)
    return [_openrlhf_row(r) for r in rows.sample_rows(
        samples, system_prompt, reward_options=reward_options, label_extra=extra,
        multi_turn=True)]
