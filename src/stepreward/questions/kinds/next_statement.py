"""The ``next_statement`` kind: which statement runs after a given execution of a line."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import TYPE_CHECKING

from stepreward.questions._kind import (
    Candidate,
    Context,
    QuestionKind,
    ordinal,
    register_kind,
    strip_answer,
    verdict,
)
from stepreward.types import Question, Verdict

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox


def _tokens(text: str) -> list[str] | None:
    try:
        toks = tokenize.generate_tokens(io.StringIO(text.strip() + "\n").readline)
        return [t.string for t in toks if t.type not in (
            tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER, tokenize.COMMENT)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None


# A copied "N |" / "line N:" prefix. No two adjacent quantifiers overlap ("\s*" followed by
# "\s+" would backtrack quadratically on a run of spaces), so a failed match is linear.
_LINE_PREFIX = re.compile(r"^\s*(?:line\s*)?(\d+)(?:\s*[|:.)]\s*|\s+)(?=\S)", re.IGNORECASE)


class NextStatementKind(QuestionKind):
    """Control flow: the statement that runs right after a given execution of a line."""

    name = "next_statement"
    description = "the statement executed right after a given execution of a line"
    order = 30
    examples = ("    total += x", "return best", "-1", "    if k > 3:")
    default = True

    def candidates(self, ctx: Context) -> list[Candidate]:
        t = ctx.trace
        out: list[Candidate] = []
        for i, step in enumerate(t.steps):
            nxt = t.next_line(step.line, step.occurrence)
            if nxt is None:
                continue
            node = ctx.stmts.get(step.line)
            score = 0.0
            if isinstance(node, (ast.If, ast.While, ast.For, ast.AsyncFor, ast.Try,
                                 ast.With, ast.ExceptHandler)):
                score += 3
            if nxt == -1:
                score += 2
            elif nxt <= step.line or nxt > _following_statement(ctx, step.line):
                score += 2  # a jump, not the next statement in the text
            if nxt != -1 and t.steps[i + 1].frame != step.frame:
                score += 1  # a call or a return
            if step.occurrence > 1:
                score += 1
            gold_text = "-1" if nxt == -1 else ctx.code(nxt)
            q = Question(
                kind="next_statement", line=step.line, occurrence=step.occurrence,
                gold="-1" if nxt == -1 else gold_text, gold_text=gold_text,
                info={"next_line": nxt},
                text=(f"Line {step.line} (`{ctx.code(step.line)}`) has just finished its "
                      f"{ordinal(step.occurrence)} execution. Which statement executes next? "
                      "Answer with that statement's code, or -1 if the program ends right "
                      "after."))
            out.append(Candidate(q, score, i, key=(step.line, step.occurrence)))
        return out

    def grade(self, answer: str, question: Question, *, float_tol: float = 0.0,
              sandbox: Sandbox | None = None, source: str = "", call: str = "") -> Verdict:
        text = strip_answer(answer)
        if not text:
            return Verdict(correct=False, status="unparseable", reason="empty answer")
        gold_line = question.info.get("next_line")
        if text in ("-1", "None", "none", "end"):
            return verdict(question.gold == "-1", "-1", "the program does not end there")
        if text.isdigit() and text.isascii() and len(text) < 10:  # a line number, too
            return verdict(int(text) == gold_line, int(text), "another line runs next")
        prefix = _LINE_PREFIX.match(text)
        if prefix:
            text = text[prefix.end():]
        gold = str(question.gold)
        if "".join(text.split()) != "".join(gold.split()):
            # Equal token sequences concatenate to equal strings: this cannot match.
            return verdict(False, text, "another statement runs next")
        got, want = _tokens(text), _tokens(gold)
        if got is None or want is None:
            ok = " ".join(text.split()) == " ".join(str(question.gold).split())
        else:
            ok = got == want
        return verdict(ok, text, "another statement runs next")


def _following_statement(ctx: Context, line: int) -> int:
    later = [n for n in ctx.stmts if n > line]
    return min(later) if later else line + 1


register_kind(NextStatementKind())
