"""HumanEval and HumanEval+ (EvalPlus): code generation graded by unit tests."""

from __future__ import annotations

from stepreward.eval._bench import Bench, EvalItem, code_items, register_bench

LAYOUT = ("humanevalplus", ("HumanEvalPlus.jsonl.gz", "HumanEvalPlus.jsonl"))


def load_humaneval_items(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
    from stepreward.eval._tasks import load_humaneval, load_humaneval_plus

    # The HumanEval+ file (and the original HumanEval JSONL) carry the original check
    # function; without the plus inputs that is HumanEval itself.
    tasks = load_humaneval_plus(path, plus=False, limit=limit) if path else load_humaneval()
    return code_items(tasks, limit)


def load_humaneval_plus_items(path: str | None, limit: int | None,
                              seed: int) -> list[EvalItem]:
    from stepreward.eval._tasks import load_humaneval_plus

    return code_items(load_humaneval_plus(path, limit=limit), limit)


register_bench(Bench("humaneval", "HumanEval's 164 tasks with their original tests",
                     load_humaneval_items, LAYOUT, family="humaneval", order=20))
register_bench(Bench("humaneval-plus", "HumanEval+ (EvalPlus): the 164 tasks with the extra "
                     "tests", load_humaneval_plus_items, LAYOUT, family="humaneval", order=21))
