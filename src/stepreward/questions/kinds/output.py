"""The ``output`` kind: the value the call returns, as the right side of its assertion."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from stepreward.questions._kind import (
    Candidate,
    Context,
    QuestionKind,
    parse_assert,
    register_kind,
)
from stepreward.types import Question, Verdict
from stepreward.values import (
    NumpyArray,
    contains_numpy,
    from_literal,
    parse_value,
    render_literal,
    values_equal,
)

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox


def _find_calls(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
               for n in ast.walk(node))


class OutputKind(QuestionKind):
    """Output prediction: complete ``assert CALL == ??`` with the value the call returns."""

    name = "output"
    description = "predict the value the call returns (complete the assertion)"
    order = 10
    examples = ("assert g('ab') == 'ba'", "assert g([3, 1], 2) == [1, 3]")
    is_io = True
    multiline = True
    default = True

    def candidates(self, ctx: Context) -> list[Candidate]:
        t = ctx.trace
        if t.status != "ok" or t.truncated or t.result is None or not t.result.askable:
            return []
        if ctx.call_node is None:
            return []
        gold_text = f"assert {ctx.call.strip()} == {render_literal(t.result.literal)}"
        q = Question(kind="output", gold=t.result.literal, gold_text=gold_text,
                     text=("Complete the assertion with the exact value the call returns: "
                           f"assert {ctx.call.strip()} == ??"),
                     info={"type_name": t.result.type_name, "call": ctx.call.strip(),
                           "entry": ctx.entry})
        return [Candidate(q, 10.0, -1)]

    def grade(self, answer: str, question: Question, *, float_tol: float = 0.0,
              sandbox: Sandbox | None = None, source: str = "", call: str = "") -> Verdict:
        expr = parse_assert(answer)
        if expr is None:
            return Verdict(correct=False, status="unparseable",
                           reason="not an assertion or a value")
        value_node: ast.expr = expr
        if isinstance(expr, ast.Compare):
            if len(expr.ops) != 1 or not isinstance(expr.ops[0], ast.Eq):
                return Verdict(correct=False, status="unparseable",
                               reason="the assertion must have the form CALL == VALUE")
            try:
                ref = ast.parse(question.info.get("call", call).strip(), mode="eval").body
            except SyntaxError:
                ref = None
            left, right = expr.left, expr.comparators[0]
            ref_dump = ast.dump(ref) if ref is not None else None
            if ast.dump(left) == ref_dump:
                value_node = right
            elif ast.dump(right) == ref_dump:
                value_node = left
            else:
                return Verdict(correct=False, status="wrong",
                               reason="the assertion does not call the function as asked")
        name = question.info.get("entry") or _entry_name(question.info.get("call", call))
        if name and _find_calls(value_node, name):
            if value_node is expr:  # no `CALL == VALUE` comparison at all
                ref_call = question.info.get("call", call).strip()
                return Verdict(correct=False, status="unparseable",
                               reason=f"the assertion must compare the call with a value, as "
                                      f"in `assert {ref_call} == VALUE`; this one is "
                                      f"{_shape(expr)}")
            return Verdict(correct=False, status="unparseable",
                           reason="the expected value must be a literal, not a call")
        segment = ast.unparse(value_node)
        try:
            value = parse_value(segment)
        except ValueError as exc:
            return Verdict(correct=False, status="unparseable", reason=str(exc))
        gold = from_literal(question.gold)
        ok = values_equal(value, gold, float_tol=float_tol, precision="expected")
        reason = "the value differs from the return value"
        if not ok and type(gold) is NumpyArray and type(value) is not NumpyArray:
            reason = "the call returns a numpy.ndarray: write it as np.array([...])"
        return Verdict(correct=ok, status="correct" if ok else "wrong", parsed=segment,
                       reason=None if ok else reason)


    def executable(self, expr: ast.expr, question: Question, *, call: str,
                   entry: str | None, source: str = "") -> tuple[str, Any] | Verdict:
        """The answer's value expression (the side of ``CALL == VALUE`` that is not the
        call), to evaluate with the program loaded, and the return value to compare with."""
        from stepreward.questions._gate import check_expression

        node: ast.expr = expr
        if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(
                expr.ops[0], ast.Eq):
            ref = ast.dump(ast.parse(call.strip(), mode="eval").body)
            if ast.dump(expr.left) == ref:
                node = expr.comparators[0]
            elif ast.dump(expr.comparators[0]) == ref:
                node = expr.left
        expression = ast.unparse(node)
        gold = from_literal(question.gold)
        numpy_value = _numpy_literal(expression)
        if numpy_value is not None:
            # A numpy literal (np.array([...])), which the gate's builtins cannot spell, is
            # its own value: compared here, as the sandbox would compare it.
            ok = values_equal(numpy_value, gold, precision="expected")
            return Verdict(correct=ok, status="correct" if ok else "wrong", parsed=expression,
                           reason=None if ok else "the answer's value differs from the "
                                                  "expected one")
        why = check_expression(node, entry, call_of_entry=False)
        if why:
            return Verdict(correct=False, status="unparseable", reason=why)
        return expression, gold

def _shape(node: ast.expr) -> str:
    """A few words for what an answer expression is, for reasons."""
    if isinstance(node, ast.BoolOp):
        return f"an `{'or' if isinstance(node.op, ast.Or) else 'and'}` expression"
    if isinstance(node, ast.Compare):
        return "a comparison other than a single `==`"
    if isinstance(node, ast.Call):
        return "a bare call"
    if isinstance(node, ast.UnaryOp):
        return "a negation" if isinstance(node.op, ast.Not) else "an arithmetic expression"
    if isinstance(node, ast.BinOp):
        return "an arithmetic expression"
    return f"a {type(node).__name__} expression"


def _entry_name(call: str) -> str | None:
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _numpy_literal(text: str) -> Any:
    """The value of ``text`` when it is a literal holding numpy values, else None."""
    try:
        value = parse_value(text)
    except ValueError:
        return None
    return value if contains_numpy(value) else None


register_kind(OutputKind())
