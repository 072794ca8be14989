"""The ``coverage`` kind: whether a line runs at all during the call."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from stepreward.questions._kind import (
    Candidate,
    Context,
    QuestionKind,
    register_kind,
    verdict,
    yes_no,
)
from stepreward.types import Question, Verdict

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox


class CoverageKind(QuestionKind):
    """Whether a line of the function runs at all during the call (yes or no)."""

    name = "coverage"
    description = "whether a line executes at all during the call"
    order = 50
    examples = ("yes", "no")

    def candidates(self, ctx: Context) -> list[Candidate]:
        t = ctx.trace
        if t.status != "ok" or t.truncated:
            return []
        executed = t.executed_lines
        out: list[Candidate] = []
        for line in sorted(ctx.body_lines):
            node = ctx.stmts.get(line)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            ran = line in executed
            score = 1.0 + (0 if ran else 2)
            q = Question(kind="coverage", line=line, gold=ran, gold_text="yes" if ran else "no",
                         text=(f"Does line {line} (`{ctx.code(line)}`) execute at all "
                               "during the call? Answer yes or no."))
            first = next((i for i, s in enumerate(t.steps) if s.line == line), len(t.steps))
            out.append(Candidate(q, score, first, key=(line,)))
        return out

    def grade(self, answer: str, question: Question, *, float_tol: float = 0.0,
              sandbox: Sandbox | None = None, source: str = "", call: str = "") -> Verdict:
        got = yes_no(answer)
        if got is None:
            return Verdict(correct=False, status="unparseable", reason="expected yes or no")
        return verdict(got == question.gold, got,
                        "the line does run" if question.gold else "the line never runs")


register_kind(CoverageKind())
