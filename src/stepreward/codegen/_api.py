"""The stage-2 reward: a completion's code run against a task's tests, scored by what passed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from stepreward.codegen._assertions import infer_entry_point, tests_from_assertions
from stepreward.codegen._extract import ExtractMode, extract_code
from stepreward.codegen._prompt import with_prompt_helpers
from stepreward.codegen._run import run_tests, test_limits
from stepreward.types import CodeScore, CodeTask, Limits, TestCase

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["CodeScore", "code_reward", "code_reward_many", "extract_code", "infer_entry_point",
           "run_tests", "tests_from_assertions"]


def code_reward(completion: Any, task: CodeTask | Sequence[TestCase] | str | None, *,
                mode: Literal["pass_rate", "all_or_nothing"] = "pass_rate",
                format_bonus: float = 0.0, bonus_on_fail: bool = False,
                extract: ExtractMode = "answer_block", sandbox: Sandbox | None = None,
                limits: Limits | None = None, timeout_s: float | None = None) -> CodeScore:
    """Reward a completion that should contain code by the tests it passes.

    ``mode``: the pass rate (default) or 1 only when every test passes. ``format_bonus`` is
    added when the completion has an ``<answer>`` block with code in it — only if at least
    one test passes, unless ``bonus_on_fail`` (the reference pays it only with a pass).
    Never raises for any completion; a completion without code scores 0 with a reason. A
    task without tests (or None) is not a code-generation task: the reward is None, which
    TRL reads as "not applicable". ``task`` may also be assertion-style test code, as
    :func:`run_tests` takes it (the entry point inferred; when the completion's code leaves it
    ambiguous, the reward is 0 with the reason). ``limits`` apply to each test, as in
    :func:`run_tests` (``timeout_s=`` is their older, deprecated spelling).

    Example:
        >>> tests = [TestCase.call("sq", (3,), 9)]
        >>> code_reward("<answer>\\n```python\\ndef sq(x):\\n    return x * x\\n```\\n</answer>",
        ...             tests).reward
        1.0
    """
    from stepreward.scoring._parse import completion_text, extract_answer_block

    per_test = test_limits(limits, timeout_s, caller="code_reward")
    tests: list[TestCase] | str
    if task is None:
        tests = []
    elif isinstance(task, str):
        tests = task if task.strip() else []
    elif isinstance(task, CodeTask):
        tests = task.tests
    else:
        tests = list(task)
        if not all(isinstance(t, TestCase) for t in tests):
            raise TypeError("code_reward takes a CodeTask, a list of TestCase or assertion "
                            "code as a string")
    if not tests:
        return CodeScore(None, None, None, "not a code-generation task (no tests)")
    text = completion_text(completion)
    if text is None:
        return CodeScore(0.0, None, None, "completion is not text")
    code: str | None = None
    try:
        code = extract_code(text, extract)
        if code is None:
            return CodeScore(0.0, None, None, "no code block found")
        # The prompt's own helpers are defined again after the completion: they win.
        program = with_prompt_helpers(code, task) if isinstance(task, CodeTask) else code
        report = run_tests(program, tests, sandbox=sandbox, limits=per_test)
        if report.status not in ("ok", "load_error") or report.total == 0:
            # (no tests ran: an entry point this code leaves ambiguous, say)
            return CodeScore(0.0, report, code, report.reason)
        base = report.pass_rate if mode == "pass_rate" else float(
            report.total > 0 and report.passed == report.total)
        formatted = extract_answer_block(text) is not None
        bonus = format_bonus if formatted and (report.passed > 0 or bonus_on_fail) else 0.0
        return CodeScore(base + bonus, report, code, None)
    except Exception as exc:  # MemoryError and RecursionError too: never into the trainer
        return CodeScore(0.0, None, code, f"could not grade: {type(exc).__name__}")


def code_reward_many(completions: Sequence[Any],
                     tasks: Sequence[CodeTask | Sequence[TestCase] | None], *,
                     max_concurrency: int = 16, **options: Any) -> list[CodeScore]:
    """:func:`code_reward` over a batch, concurrently (the sandbox pool does the work).

    Example:
        >>> code_reward_many([], [])
        []
    """
    if len(completions) != len(tasks):
        raise ValueError(f"got {len(completions)} completions for {len(tasks)} tasks")
    if not completions:
        return []
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, min(max_concurrency, len(completions)))) as pool:
        return list(pool.map(lambda ct: code_reward(ct[0], ct[1], **options),
                             zip(completions, tasks, strict=True)))
