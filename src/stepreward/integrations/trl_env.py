"""TRL environments and tools: ``ExecVerifyEnv`` for ``environment_factory``, the sandboxed
``run_python`` tool, and ``env_rows`` for the datasets they read.

TRL (1.16) makes every public method of an environment a tool, so ``ExecVerifyEnv`` has exactly
``reset``, ``answer`` and ``get_reward``; tool docstrings are the schema the model sees. Model
text never runs in the trainer's process: grading and ``run_python`` use the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stepreward.rewards import RewardResult, episode_result, read_label, reward_for_turn
from stepreward.rows import messages, sample_rows
from stepreward.types import Limits, Sample

__all__ = ["ENV_INSTRUCTION", "ExecVerifyEnv", "env_rows", "run_python"]

ENV_INSTRUCTION = (
    "I will show you a Python program and a call to it, then ask about that run one question at "
    "a time. Work each answer out without running the code, then call the `answer` tool with it "
    "(one answer per call, in the format the question asks). After each answer you see whether "
    "it was right and the true answer, then the next question.")
# What the model sees of one tool result: enough for a traceback's end, not a flood of tokens.
MAX_TOOL_CHARS = 2000
RUN_PYTHON_LIMITS = Limits(timeout_s=5.0, memory_mb=512, max_output_bytes=64_000)
_MAX_ANSWER_CHARS = 4000


def _cut(text: str, limit: int, keep: str = "head") -> str:
    if len(text) <= limit:
        return text
    more = len(text) - limit
    if keep == "tail":
        return f"[... {more} earlier characters cut]\n{text[-limit:]}"
    return f"{text[:limit]}\n[... {more} more characters cut]"


def _question(sample: Sample, i: int) -> str:
    return f"Question {i + 1} of {len(sample.questions)}: {sample.questions[i].text}"


class ExecVerifyEnv:
    """A multi-turn ExecVerify episode for TRL's ``GRPOTrainer(environment_factory=...)``.

    ``reset(**row)`` reads the row's stage-1 sample (its ``label`` or ``sample`` column) and
    returns the program, the call and the first question, which TRL appends to the prompt. The
    ``answer`` tool grades one answer with :func:`stepreward.rewards.reward_for_turn` (in the
    sandbox when the question needs it) and returns right or wrong, the true answer and the next
    question. ``get_reward`` is the episode's reward from
    :func:`stepreward.rewards.episode_result`: each question's reward under the preset (the
    label's, or ``preset=``) over the number of questions, unanswered ones 0; ``None`` for rows
    without a stage-1 sample (TRL leaves them out). ``result`` holds the episode's
    :class:`~stepreward.rewards.RewardResult` (score, per-kind accuracy, metrics) for reward
    functions that read ``environments``. Options pass through with ``functools.partial``.

    Example:
        >>> env = ExecVerifyEnv()
        >>> env.reset(prompt=[], label=None)
        'This row has no stage-1 sample; there is nothing to answer.'
        >>> env.get_reward() is None
        True
    """

    def __init__(self, *, preset: str | None = None, reveal: bool = True,
                 **options: Any) -> None:
        self._preset = preset
        self._reveal = reveal
        self._options = options
        self._label: Any = None
        self._sample: Sample | None = None
        self._turns: list[RewardResult] = []

    def reset(self, **row: Any) -> str | None:
        """Start an episode on one dataset row; returns the first observation."""
        self._turns = []
        self._sample = None
        label = next((row[k] for k in ("label", "sample") if row.get(k) is not None), None)
        parsed = read_label(label)
        if parsed.kind != "trace" or not isinstance(parsed.item, Sample):
            self._label = None
            return "This row has no stage-1 sample; there is nothing to answer."
        self._label, self._sample = label, parsed.item
        if not self._sample.questions:
            return "This program has no questions."
        from stepreward.questions import number_lines

        return (f"\n\nProgram:\n{number_lines(self._sample.source)}\n\n"
                f"Call: {self._sample.call.strip()}\n\n{_question(self._sample, 0)}")

    def answer(self, text: str) -> str:
        """Submit your answer to the current question about the program's run. The reply says
        whether it was right, gives the true answer, and asks the next question.

        Args:
            text: The answer, in the format the question asks (for example `assert f(3) == 7`,
                a statement of the program, or `6; int`).

        Returns:
            Whether the answer was right, the true answer and the next question.
        """
        sample = self._sample
        if sample is None:
            return "There is no open question in this episode."
        i = len(self._turns)
        n = len(sample.questions)
        if i >= n:
            return f"All {n} questions are answered; the episode is over."
        body = _cut(text if isinstance(text, str) else str(text), _MAX_ANSWER_CHARS)
        r = reward_for_turn(f"<answer>\n{body}\n</answer>", self._label, i,
                            preset=self._preset, **self._options)
        self._turns.append(r)
        if r.correct:
            verdict = "Right."
        elif r.metrics["errors"]:
            verdict = f"Not graded: {r.reason}."
        elif r.metrics["unparsed"]:
            verdict = "Wrong: the answer could not be read in the format the question asks."
        else:
            verdict = "Wrong."
        lines = [f"Question {i + 1}: {verdict}"]
        if self._reveal:
            lines.append(f"The true answer: {sample.questions[i].gold_text}")
        lines.append(_question(sample, i + 1) if i + 1 < n else
                     f"That was the last question: {self.result.score:.0%} right.")
        return "\n".join(lines)

    def get_reward(self) -> float | None:
        """The episode's reward (None when the row has no stage-1 sample)."""
        return None if self._sample is None else self.result.reward

    @property
    def result(self) -> RewardResult:
        """The episode so far as one :class:`~stepreward.rewards.RewardResult`."""
        return episode_result(self._label, self._turns)


def run_python(code: str, stdin: str = "") -> str:
    """Run a Python program in an isolated sandbox (no network, no files kept, 5 s and 512 MB
    limits) and see what it printed. Example: code `print(sum([1, 2]))` gives `status: ok`
    and `stdout:` `3`.

    Args:
        code: The complete Python program to run.
        stdin: Text given to the program on standard input.

    Returns:
        The status (ok, error, timeout, memory, output_limit, crashed or rejected), the reason
        when it is not ok, the exit code, and the program's stdout and stderr, cut to
        2000 characters each.
    """
    from stepreward.trace._api import default_sandbox

    if not isinstance(code, str) or not isinstance(stdin, (str, type(None))):
        return "status: rejected\nreason: code and stdin must be text"
    try:
        r = default_sandbox().run(code, stdin or None, limits=RUN_PYTHON_LIMITS)
    except Exception as exc:  # a broken sandbox: a tool result, never an exception in TRL
        return f"status: crashed\nreason: the sandbox failed: {type(exc).__name__}"
    out = [f"status: {r.status}"]
    if r.status != "ok":
        reason = r.reason or (f"{r.error_type}: {r.error_message}" if r.error_type else "")
        out.append(f"reason: {_cut(reason, 500)}")
    if r.exit_code is not None:
        out.append(f"exit code: {r.exit_code}")
    out.append("stdout:\n" + _cut(r.stdout, MAX_TOOL_CHARS)
               + ("\n[stdout stopped at the sandbox's output limit]" if r.stdout_truncated
                  else ""))
    if r.stderr:
        out.append("stderr:\n" + _cut(r.stderr, MAX_TOOL_CHARS, keep="tail"))
    return "\n".join(out)


def env_rows(samples: Iterable[Sample | Mapping[str, Any]],
             system_prompt: str | None = None, *, instruction: str = ENV_INSTRUCTION,
             reward_options: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows for :class:`ExecVerifyEnv`: the instruction as the user turn (the environment's
    ``reset`` appends the program and the first question) and the sample as ``label``.

    Example:
        >>> from stepreward.types import Question
        >>> s = Sample(id="x", source="", call="f()", prompt="Q?", questions=[
        ...     Question(kind="output", text="?", gold=1, gold_text="1")])
        >>> row = env_rows([s])[0]
        >>> row["prompt"][-1]["content"] == ENV_INSTRUCTION, row["kind"]
        (True, 'trace')
    """
    rows = sample_rows(samples, system_prompt, reward_options=reward_options)
    return [{**row, "prompt": messages(instruction, system_prompt)} for row in rows]
