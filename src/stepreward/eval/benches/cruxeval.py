"""CRUXEval: output prediction, input prediction, and stepreward's step questions on its runs."""

from __future__ import annotations

from stepreward.eval._bench import (
    Bench,
    EvalItem,
    Loader,
    local_or_hub,
    register_bench,
    trace_items,
)
from stepreward.questions._kinds import KINDS

LAYOUT = ("cruxeval", ("cruxeval.jsonl",))
#: cruxeval-trace asks every step kind (all but the I/O ones) of the kind registry.
TRACE_KINDS = tuple(name for name, kind in KINDS.items() if not kind.is_io)


def _loader(kinds: tuple[str, ...]) -> Loader:
    def load(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
        rows = local_or_hub(path, "cruxeval-org/cruxeval")[:limit]
        return trace_items(rows, [(r["code"], f"f({r['input']})") for r in rows], kinds, seed)

    return load


register_bench(Bench("cruxeval-o", "CRUXEval output prediction (800 programs)",
                     _loader(("output",)), LAYOUT, policy="execute", family="cruxeval",
                     order=10))
register_bench(Bench("cruxeval-i", "CRUXEval input prediction (800 programs)",
                     _loader(("input",)), LAYOUT, policy="execute", family="cruxeval",
                     order=11))
register_bench(Bench("cruxeval-trace", "step questions on CRUXEval's runs (next statement, "
                     "state, coverage, branch)", _loader(TRACE_KINDS), LAYOUT,
                     family="cruxeval", order=12))
