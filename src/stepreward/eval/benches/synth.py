"""stepreward's own samples (a `stepreward synth` file) as a benchmark: held-out levels."""

from __future__ import annotations

import json

from stepreward._jsonl import read_jsonl
from stepreward.eval._bench import Bench, EvalItem, register_bench
from stepreward.types import Sample


def load_synth_items(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
    if not path:
        raise ValueError("the synth benchmark needs --data PATH (a stepreward synth file)")
    out = []
    for r in read_jsonl(path)[:limit]:
        s = Sample.from_row(json.loads(r["label"]) if "label" in r else r)
        out.append(EvalItem(id=s.id, prompt=s.prompt, sample=s, meta={"level": r.get("level")}))
    return out


register_bench(Bench("synth", "a stepreward synth file (its samples, by level)",
                     load_synth_items, order=90))
