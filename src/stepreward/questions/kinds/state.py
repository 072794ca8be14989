"""The ``state`` kind: a variable's value and type after a given execution of a line."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from stepreward.questions._kind import (
    Candidate,
    Context,
    QuestionKind,
    ordinal,
    register_kind,
    strip_answer,
)
from stepreward.types import Question, Verdict
from stepreward.values import (
    NumpyArray,
    from_literal,
    normalize_type_name,
    parse_value,
    render_literal,
    values_equal,
)

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox


def _split_state(answer: str) -> tuple[str, str] | None:
    text = strip_answer(answer)
    if ";" not in text:
        return None
    value, _, type_text = text.rpartition(";")
    return value.strip(), type_text.strip()


class StateKind(QuestionKind):
    """Data flow: the value and type of a variable right after a given execution of a line."""

    name = "state"
    description = "the value and type of a variable right after a given execution of a line"
    order = 40
    examples = ("[1, 2]; list", "'ab'; str", "7; int", "None; NoneType")
    multiline = True
    partial_credit = True
    default = True

    def answer_parses(self, text: str) -> bool:
        """The value part (before the last ``;``) of several joined lines is an expression."""
        from stepreward.questions._gate import parse_answer

        return parse_answer(text.rpartition(";")[0].strip(), mode="eval") is not None

    def candidates(self, ctx: Context) -> list[Candidate]:
        out: list[Candidate] = []
        for i, step in enumerate(ctx.trace.steps):
            for var in step.changed:
                value = step.state_after[var]
                if not value.askable:
                    continue
                score = 1.0 + (step.occurrence > 1)
                if value.type_name in ("list", "dict", "set", "tuple", "frozenset"):
                    score += 1
                node = ctx.stmts.get(step.line)
                if isinstance(node, (ast.Expr, ast.For, ast.AugAssign)):
                    score += 1  # changed by a call such as append, or by iteration
                gold_text = f"{render_literal(value.literal)}; {value.type_name}"
                q = Question(
                    kind="state", line=step.line, occurrence=step.occurrence, var=var,
                    gold={"value": value.literal, "type": value.type_name},
                    gold_text=gold_text,
                    text=(f"What are the value and type of `{var}` right after line "
                          f"{step.line} (`{ctx.code(step.line)}`) finishes its "
                          f"{ordinal(step.occurrence)} execution? Answer as `value; type`."))
                out.append(Candidate(q, score, i, key=(step.line, step.occurrence, var)))
        return out

    def grade(self, answer: str, question: Question, *, float_tol: float = 0.0,
              sandbox: Sandbox | None = None, source: str = "", call: str = "") -> Verdict:
        split = _split_state(answer)
        if split is None:
            return Verdict(correct=False, status="unparseable",
                           reason="expected `value; type`")
        value_text, type_text = split
        gold_type = question.gold["type"]
        gold_value = from_literal(question.gold["value"])
        type_ok = normalize_type_name(type_text) == normalize_type_name(gold_type)
        try:
            value = parse_value(value_text)
        except ValueError as exc:
            if gold_type == "str" and value_text:
                value = value_text  # an unquoted string
            else:
                return Verdict(correct=False, status="unparseable",
                               reason=f"value: {exc}")
        if type(gold_value) is NumpyArray and type(value) in (list, tuple) and \
                normalize_type_name(type_text) == "numpy.ndarray":
            # `[1, 2]; numpy.ndarray`: the data of an array, its dtype as numpy infers it.
            try:
                value = NumpyArray.from_data(value)
            except ValueError:
                pass
        value_ok = values_equal(value, gold_value, float_tol=float_tol, precision="expected")
        if not value_ok and gold_type == "str" and not isinstance(value, str):
            value_ok = value_text == gold_value  # the string '12' written unquoted as 12
        ok = value_ok and type_ok
        reason = None
        if not ok:
            reason = ("wrong value and type" if not value_ok and not type_ok else
                      "wrong value" if not value_ok else "wrong type")
        return Verdict(correct=ok, status="correct" if ok else "wrong",
                       parsed=f"{value_text}; {type_text}", reason=reason,
                       partial=0.5 * value_ok + 0.5 * type_ok)


register_kind(StateKind())
