"""Easy code-generation tasks for CPU demos: arithmetic on one integer, described in words."""

from __future__ import annotations

import operator
import random
from collections.abc import Callable

from stepreward.types import CodeTask, TestCase

__all__ = ["easy_code_tasks"]

_EASY_OPS: tuple[tuple[str, str, Callable[[int, int], int]], ...] = (
    ("add {k} to {v}", "{v} + {k}", operator.add),
    ("subtract {k} from {v}", "{v} - {k}", operator.sub),
    ("multiply {v} by {k}", "{v} * {k}", operator.mul),
    ("take {v} modulo {k}", "{v} % {k}", operator.mod),
    ("integer-divide {v} by {k}", "{v} // {k}", operator.floordiv))


def easy_code_tasks(n: int, seed: int = 0, *, max_ops: int = 2) -> list[CodeTask]:
    """``n`` easy code-generation tasks: arithmetic on one integer described in words
    ("add 3 to x, then multiply the result by 2"), five unit tests each. A model of a few
    million parameters learns to write such functions during SFT, so stage 2 gets unit-test
    rewards that vary within a group instead of zeros.

    Example:
        >>> task = easy_code_tasks(1, seed=0)[0]
        >>> len(task.tests), task.entry_point
        (5, 'f')
    """
    if max_ops < 1:
        raise ValueError(f"max_ops must be at least 1, got {max_ops}")
    # Distinct solutions: 4 names times (5 ops x 8 constants) per op, for 1..max_ops ops.
    distinct = sum(4 * (len(_EASY_OPS) * 8) ** m for m in range(1, max_ops + 1))
    if n > distinct:
        raise ValueError(f"only {distinct} distinct easy tasks have at most {max_ops} "
                         f"op(s); asked for {n}: raise max_ops or lower n")
    rng = random.Random(seed)
    tasks: list[CodeTask] = []
    seen: set[str] = set()
    while len(tasks) < n:
        var = rng.choice(("x", "n", "value", "count"))
        ops = [(rng.randrange(len(_EASY_OPS)), rng.randint(2, 9))
               for _ in range(rng.randint(1, max_ops))]
        expr, words = var, []
        for i, (op, k) in enumerate(ops):
            text, code, _ = _EASY_OPS[op]
            words.append(text.format(k=k, v=var if i == 0 else "the result"))
            expr = code.format(k=k, v=expr if i == 0 else f"({expr})")
        solution = f"def f({var}):\n    return {expr}"
        if solution in seen:
            continue
        seen.add(solution)
        tests = []
        for x in rng.sample(range(-9, 30), 5):
            y = x
            for op, k in ops:
                y = _EASY_OPS[op][2](y, k)
            tests.append(TestCase.call("f", (x,), y))
        prompt = (f"Write a Python function `f({var})` that does this: "
                  f"{', then '.join(words)}, and return the result.")
        tasks.append(CodeTask(task_id=f"easy/{seed}/{len(tasks)}", prompt=prompt,
                              entry_point="f", tests=tests, canonical_solution=solution,
                              source="easy", info={"ops": len(ops)}))
    return tasks
