"""LiveCodeBench: code execution (output prediction) and code generation."""

from __future__ import annotations

from stepreward.eval._bench import (
    Bench,
    EvalItem,
    code_items,
    local_or_hub,
    register_bench,
    trace_items,
)

# LiveCodeBench runs its programs after a block of imports (typing's List and friends, and the
# stdlib modules contest code uses); its execution programs rely on them.
LCB_IMPORTS = ("from typing import *; from collections import *; from itertools import *; "
               "from functools import *; from heapq import *; from bisect import *; "
               "import math, string, re\n")


def load_execution_items(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
    # LiveCodeBench-Exec rows carry the whole call (``f(x = 1)``) as their input.
    rows = local_or_hub(path, "livecodebench/execution-v2")[:limit]
    calls = [(LCB_IMPORTS + r["code"], str(r["input"])) for r in rows]
    return trace_items(rows, calls, ("output",), seed)


def load_generation_items(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
    from stepreward.eval._tasks import load_livecodebench

    return code_items(load_livecodebench(path, limit=limit), limit)


register_bench(Bench("livecodebench-exec", "LiveCodeBench code execution (output prediction)",
                     load_execution_items,
                     ("livecodebench", ("execution.jsonl", "execution-v2.jsonl")),
                     policy="execute", family="livecodebench", order=40))
register_bench(Bench("livecodebench", "LiveCodeBench code generation (stdin/stdout and "
                     "function tests)", load_generation_items,
                     ("livecodebench", ("code_generation.jsonl", "code_generation_lite.jsonl",
                                        "test.jsonl")), family="livecodebench", order=41))
