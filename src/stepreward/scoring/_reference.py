"""The reference implementation's reward, quirks included, for ablations.

Reproduced quirks (the W-/B- codes are defined in ``docs/method.md``): the answer
block needs both tags; the first line must start with ``assert`` and contain the call's
argument text verbatim; the assertion is *executed* with the program, so tautologies such as
``assert f(x) == f(x)`` pass (W-1); a count mismatch between answer lines and step questions
gives 1.0 (B-9); next-statement answers match on ``strip()`` equality; state answers split on
every ``;`` (B-10), use ``ast.literal_eval`` with the raw text as fallback, compare type names
without aliases (B-4) and floats exactly; an input ("oi") sample scores 2.0 when the first
python code block of the answer merely runs (W-2). Labels are stepreward's own (the labelling
defects B-1..B-6 are not reproduced).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from stepreward.types import Limits, Question, Sample, Score, Verdict
from stepreward.values import from_literal

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["reference_score"]

_TIMEOUT = Limits(timeout_s=0.5)  # the reference's subprocess timeout
_PY_OPEN, _PY_CLOSE = "```python\n", "\n```"


def _first_python_block(text: str) -> str | None:
    """The first ```` ```python ```` block's code, as ``re.search(r"```python\n(.*?)\n```")``
    finds it, in linear time (that pattern rescans the rest of the text from every opening
    fence that is never closed)."""
    start = text.find(_PY_OPEN)
    if start < 0:
        return None
    end = text.find(_PY_CLOSE, start + len(_PY_OPEN))
    # No closing fence after the first opening one means none after a later one either.
    return None if end < 0 else text[start + len(_PY_OPEN):end]


def _extract(text: str) -> str:
    if "<answer>" not in text or "</answer>" not in text:
        return ""
    after = text.rsplit("<answer>", maxsplit=1)[-1]
    return after.split("</answer>")[0].strip()


def _state_ok(answer: str, q: Question) -> bool:
    try:
        parts = answer.split(";")
        type_str = parts[1].strip()
        text = parts[0].strip()
        try:
            value = ast.literal_eval(text)
        except Exception:
            value = text
        gold_type = q.gold["type"]
        gold = from_literal(q.gold["value"])
        return bool(type_str == gold_type and value == gold)
    except Exception:
        return False


def _run(code: str, sandbox: Sandbox | None) -> bool:
    from stepreward.trace._api import default_sandbox

    sb = sandbox or default_sandbox()
    return sb.run(code, limits=_TIMEOUT).status == "ok"


def reference_score(text: str, sample: Sample, *, sandbox: Sandbox | None = None) -> Score:
    """The reference reward for ``text`` (see the module docstring for the quirks)."""
    n = len(sample.questions)

    def result(value: float, verdicts: list[Verdict] | None = None,
               why: str | None = None) -> Score:
        vs = verdicts or [Verdict(correct=False, status="missing")] * n
        return Score.model_construct(reward=value, components={}, verdicts=vs,
                                     parse_error=why, preset="execverify_reference",
                                     policy="execute")

    ans = _extract(text)
    if ans == "":
        return result(0.0, why="no <answer>...</answer>")
    kinds = [q.kind for q in sample.questions]
    if "input" in kinds:
        block = _first_python_block(ans)
        code = block if block is not None else "assert False"
        ok = _run(code, sandbox)
        return result(2.0 if ok else 0.0, [Verdict(correct=ok, status="correct" if ok else
                                                   "wrong")] * n)
    lines = ans.split("\n")
    first = lines[0].strip()
    rest = lines[1:]
    args = ""
    call = sample.call.strip()
    if "(" in call and call.endswith(")"):
        args = call[call.index("(") + 1:-1]
    if args not in first or not first.startswith("assert"):
        return result(0.0, why="the first answer line is not the assertion")
    if not _run(f"\n{sample.source}\n\n{first}\n", sandbox):
        return result(0.0)
    steps = [q for q in sample.questions if q.kind != "output"]
    io_verdict = Verdict(correct=True, status="correct", parsed=first)
    if not steps:
        return result(2.0, [io_verdict])
    if len(rest) != len(steps):
        return result(1.0, [io_verdict] + [Verdict(correct=False, status="missing")] * len(steps))
    verdicts = [io_verdict]
    correct = 0
    for line, q in zip(rest, steps, strict=True):
        ok = _state_ok(line, q) if q.kind == "state" else line.strip() == q.gold_text.strip()
        correct += ok
        verdicts.append(Verdict(correct=ok, status="correct" if ok else "wrong",
                                parsed=line.strip()))
    return result(2.0 * (0.5 * 1.0 + 0.5 * correct / len(steps)), verdicts)
