"""REval (DREval): questions about program states and paths, with incremental consistency."""

from __future__ import annotations

from stepreward.eval._bench import Bench, EvalItem, register_bench


def load_reval_items(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
    from stepreward.eval._reval import load_reval

    if not path:
        raise FileNotFoundError("REval has no hub copy: clone github.com/r-eval/REval and "
                                "pass --data REval/data (or set STEPREWARD_DATA with a "
                                "reval/ folder holding DREval_data.jsonl and "
                                "DREval_tasks.jsonl)")
    cases, _skipped = load_reval(path, limit=limit)
    return [EvalItem(id=c.id, prompt=c.prompt(), reval=c) for c in cases]


register_bench(Bench("reval", "REval: coverage, path, state and output questions per run, "
                     "with incremental consistency", load_reval_items,
                     ("reval", ("DREval_data.jsonl",)), order=50))
