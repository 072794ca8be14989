"""The method's stage-2 reward over :func:`run_tests` (the TRL and OpenRLHF adapters use it).

Also reachable as ``stepreward.integrations.paper.method_code_reward``, where it was first.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from stepreward.types import CodeTask

if TYPE_CHECKING:
    from stepreward.codegen._api import CodeScore
    from stepreward.sandbox._pool import Sandbox

__all__ = ["method_code_reward", "partial_test_indices"]


def partial_test_indices(task: CodeTask, partial_tests: int, seed: int | None) -> list[int]:
    """The tests whose pass rate the method pays when not every test passes: the first
    ``partial_tests`` (the method's rule, ``seed=None``), or that many drawn per task with
    ``seed`` (the same task and seed always draw the same tests).

    Example:
        >>> from stepreward.types import TestCase
        >>> t = CodeTask(task_id="t", prompt="",
        ...              tests=[TestCase.call("f", (i,), i) for i in range(30)])
        >>> partial_test_indices(t, 10, None)
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        >>> partial_test_indices(t, 10, 0) == partial_test_indices(t, 10, 0)
        True
    """
    n = len(task.tests)
    k = min(max(1, partial_tests), n)
    if seed is None:
        return list(range(k))
    rng = random.Random(f"{seed}:{task.task_id}:{n}")
    return sorted(rng.sample(range(n), k))


def method_code_reward(completion: Any, task: CodeTask, *, format_bonus: float = 0.05,
                       partial_tests: int = 10, timeout_s: float = 1.0,
                       sandbox: Sandbox | None = None,
                       partial_seed: int | None = None) -> CodeScore:
    """The method's stage-2 reward: 1 when every test passes; otherwise the pass rate over
    the first ``partial_tests`` tests; plus ``format_bonus`` only when that rate is above 0.

    The first tests are usually the examples the prompt shows, so passing only those pays as
    much as a right solution (see docs/codegen.md). ``partial_seed`` keeps the method's rule
    but pays the pass rate over ``partial_tests`` tests drawn per task with that seed
    (:func:`partial_test_indices`) instead of the first ones.

    As in the reference, the code is the last python block of the ``<answer>`` block (the
    block's text when it has no fence) and a completion without a closed ``<answer>`` block
    scores 0. The reference's crash when nothing passes (B-7) is a plain 0 here. Never raises.

    Example:
        >>> from stepreward.types import TestCase
        >>> t = CodeTask(task_id="t", prompt="", tests=[TestCase.call("sq", (3,), 9)])
        >>> method_code_reward("<answer>\\n```python\\ndef sq(x):\\n    return x * x\\n```\\n"
        ...                    "</answer>", t).reward
        1.05
    """
    from stepreward.codegen._api import CodeScore, extract_code, run_tests
    from stepreward.scoring._parse import completion_text, extract_answer_block

    if not task.tests:
        return CodeScore(None, None, None, "not a code-generation task (no tests)")
    text = completion_text(completion)
    if text is None:
        return CodeScore(0.0, None, None, "completion is not text")
    if extract_answer_block(text) is None:
        return CodeScore(0.0, None, None, "no closed <answer> block")
    code = extract_code(text, "answer_block") or extract_code(text, "raw")
    if code is None:
        return CodeScore(0.0, None, None, "empty <answer> block")
    from stepreward.codegen._prompt import with_prompt_helpers

    # The prompt's own helpers are defined again after the completion: they win.
    report = run_tests(with_prompt_helpers(code, task), task.tests, sandbox=sandbox,
                       timeout_s=timeout_s)
    if report.status != "ok":
        return CodeScore(0.0, report, code, report.reason)
    if report.passed == report.total:
        rate = 1.0
    else:
        counted = set(partial_test_indices(task, partial_tests, partial_seed))
        failed = sum(f.index in counted for f in report.failures)
        rate = (len(counted) - failed) / len(counted)
    reward = round(rate + format_bonus, 10) if rate > 0 else 0.0
    return CodeScore(reward, report, code, None)
