"""The ``branch`` kind: which way a condition went on a given evaluation."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from stepreward.questions._kind import (
    Candidate,
    Context,
    QuestionKind,
    ordinal,
    register_kind,
    verdict,
    yes_no,
)
from stepreward.types import Question, Step, Trace, Verdict

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox


def _next_in_frame(t: Trace, i: int) -> Step | None:
    frame = t.steps[i].frame
    for step in t.steps[i + 1:]:
        if step.frame == frame:
            return step
    return None


class BranchKind(QuestionKind):
    """Which way an ``if``/``while`` condition went on a given evaluation (true or false)."""

    name = "branch"
    description = "which way an if or while condition went on a given evaluation"
    order = 60
    examples = ("True", "False")

    def candidates(self, ctx: Context) -> list[Candidate]:
        t = ctx.trace
        out: list[Candidate] = []
        for i, step in enumerate(t.steps):
            node = ctx.stmts.get(step.line)
            if not isinstance(node, (ast.If, ast.While)) or not node.body:
                continue
            body_line = node.body[0].lineno
            if body_line == node.lineno:
                continue  # `if x: y` on one line: the steps cannot tell the branches apart
            nxt = _next_in_frame(t, i)
            if nxt is None:
                continue
            taken = nxt.line == body_line
            word = "while" if isinstance(node, ast.While) else (
                "elif" if ctx.code(step.line).startswith("elif") else "if")
            score = 2.0 + (step.occurrence > 1) + (0 if taken else 1)
            q = Question(kind="branch", line=step.line, occurrence=step.occurrence, gold=taken,
                         gold_text="True" if taken else "False",
                         text=(f"The `{word}` condition on line {step.line} "
                               f"(`{ctx.code(step.line)}`) is evaluated for the "
                               f"{ordinal(step.occurrence)} time. Is it true or false?"))
            out.append(Candidate(q, score, i, key=(step.line, step.occurrence)))
        return out

    def grade(self, answer: str, question: Question, *, float_tol: float = 0.0,
              sandbox: Sandbox | None = None, source: str = "", call: str = "") -> Verdict:
        got = yes_no(answer)
        if got is None:
            return Verdict(correct=False, status="unparseable", reason="expected true or false")
        return verdict(got == question.gold, got,
                        f"the condition is {'true' if question.gold else 'false'} then")


register_kind(BranchKind())
