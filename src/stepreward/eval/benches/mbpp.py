"""MBPP and MBPP+ (EvalPlus): code generation graded by unit tests.

A template for a new benchmark: one loader that turns the data file (or the hub) into items,
and one :func:`register_bench` call per benchmark with its layout, grading and family.
"""

from __future__ import annotations

from stepreward.eval._bench import Bench, EvalItem, code_items, register_bench


def load_mbpp_items(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
    from stepreward.eval._tasks import load_mbpp

    return code_items(load_mbpp(path, limit=limit), limit)


def load_mbpp_plus_items(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
    from stepreward.eval._tasks import load_mbpp_plus

    return code_items(load_mbpp_plus(path, limit=limit), limit)


register_bench(Bench("mbpp", "MBPP's test split (full or sanitized rows)", load_mbpp_items,
                     ("mbpp", ("mbpp.jsonl", "sanitized-mbpp.jsonl")), family="mbpp",
                     order=30))
register_bench(Bench("mbpp-plus", "MBPP+ (EvalPlus): the tasks with the extra tests",
                     load_mbpp_plus_items, ("mbppplus", ("MbppPlus.jsonl.gz", "MbppPlus.jsonl")),
                     family="mbpp", order=31))
