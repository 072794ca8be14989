"""BigCodeBench: code generation with library calls, graded by unit tests."""

from __future__ import annotations

import sys

from stepreward.eval._bench import Bench, EvalItem, code_items, register_bench


def load_bigcodebench_items(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
    from stepreward.eval._tasks import load_bigcodebench

    tasks, skipped = load_bigcodebench(path, limit=limit)
    if skipped:
        print(f"warning: {len(skipped)} BigCodeBench tasks skipped: their libraries are "
              f"not installed here (first: {', '.join(skipped[:3])})", file=sys.stderr)
    return code_items(tasks)


register_bench(Bench("bigcodebench", "BigCodeBench (tasks whose libraries are installed here)",
                     load_bigcodebench_items,
                     ("bigcodebench", ("bigcodebench.jsonl", "BigCodeBench.jsonl",
                                       "BigCodeBench.jsonl.gz")),
                     family="bigcodebench", order=60))
