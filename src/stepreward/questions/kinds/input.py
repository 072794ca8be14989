"""The ``input`` kind: arguments for which the call returns a given value."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from stepreward.questions._kind import (
    Candidate,
    Context,
    QuestionKind,
    parse_assert,
    register_kind,
    value_bytes_bound,
)
from stepreward.types import Question, Verdict
from stepreward.values import (
    NOT_LITERAL,
    contains_numpy,
    dumps_literal,
    from_literal,
    parse_value,
    render_literal,
    to_literal,
    values_equal,
)

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox


# Builtin constructors that are pure functions of their literal arguments: an original input
# written as ``dict(a=1)`` or ``tuple([1, 2])`` is a value like any literal. bytes, bytearray
# and the like are left out: ``bytes(10**9)`` is a literal-sized way to allocate a gigabyte.
_PURE_CONSTRUCTORS: dict[str, Any] = {
    "dict": dict, "list": list, "tuple": tuple, "set": set, "frozenset": frozenset,
    "str": str, "int": int, "float": float, "bool": bool, "complex": complex,
}
_MAX_CONSTRUCTOR_ITEMS = 100_000


def _arg_value(node: ast.expr, depth: int = 0) -> Any:
    """The value of an argument written as a literal or as pure builtin constructors over
    literals (``dict(f = 1)``, ``set([1, 2])``, ``tuple("ab")``); a generator is not one; raises
    ValueError for anything else."""
    try:
        return parse_value(ast.unparse(node))
    except ValueError:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _PURE_CONSTRUCTORS and depth < 20):
            raise
    args = []
    for a in node.args:
        if isinstance(a, ast.Starred):
            raise ValueError("not a supported literal: starred argument")
        v = _arg_value(a, depth + 1)
        if isinstance(v, range) and len(v) > _MAX_CONSTRUCTOR_ITEMS:
            raise ValueError("not a supported literal: range too long to expand")
        args.append(v)
    kwargs = {}
    for k in node.keywords:
        if k.arg is None:
            raise ValueError("not a supported literal: ** argument")
        kwargs[k.arg] = _arg_value(k.value, depth + 1)
    try:
        value = _PURE_CONSTRUCTORS[node.func.id](*args, **kwargs)
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        raise ValueError(f"not a supported literal: {node.func.id}(...) fails: {exc}") from None
    if to_literal(value) is NOT_LITERAL:
        raise ValueError(f"not a supported literal: {node.func.id}(...) is no literal value")
    return value


def _literal_args(call: ast.Call) -> tuple[list[Any], dict[str, Any]] | None:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    try:
        for a in call.args:
            if isinstance(a, ast.Starred):
                return None
            args.append(_arg_value(a))
        for k in call.keywords:
            if k.arg is None:
                return None
            kwargs[k.arg] = _arg_value(k.value)
    except ValueError:
        return None
    return args, kwargs


class InputKind(QuestionKind):
    """Input prediction: arguments for which ``assert f(??) == OUTPUT`` holds (checked by
    running the program on them when they are not the original ones)."""

    name = "input"
    description = "find arguments for which the call returns the given value"
    order = 20
    examples = ("assert g('ab') == 'ba'", "assert g([3, 1], 2) == [1, 3]")
    is_io = True
    multiline = True
    hides_call = True
    runs_program = True

    def candidates(self, ctx: Context) -> list[Candidate]:
        t = ctx.trace
        if t.status != "ok" or t.truncated or t.result is None or not t.result.askable:
            return []
        if ctx.call_node is None or ctx.entry is None or ctx.args_text is None:
            return []
        if _literal_args(ctx.call_node) is None:
            # Arguments built by pure builtins (``dict(a=1)``, ``'a-b'.split('-')``, a
            # lambda) are inputs like any other as long as they pass the answer gate: the
            # gold answer, like any answer that differs from it, is then checked by running
            # the program on it in the sandbox.
            from stepreward.questions._gate import check_expression, program_globals

            if check_expression(ctx.call_node, ctx.entry, call_of_entry=True,
                                readable=program_globals(ctx.source, ctx.entry)) is not None:
                return []
        output = render_literal(t.result.literal)
        q = Question(kind="input", gold=ctx.args_text,
                     gold_text=f"assert {ctx.entry}({ctx.args_text}) == {output}",
                     text=(f"Find arguments for which the assertion holds, and write the whole "
                           f"assertion: assert {ctx.entry}(??) == {output}"),
                     info={"entry": ctx.entry, "output": t.result.literal})
        return [Candidate(q, 10.0, -1)]

    def grade(self, answer: str, question: Question, *, float_tol: float = 0.0,
              sandbox: Sandbox | None = None, source: str = "", call: str = "") -> Verdict:
        entry = question.info["entry"]
        expr = parse_assert(answer)
        node: ast.Call | None = None
        if isinstance(expr, ast.Compare) and isinstance(expr.left, ast.Call):
            node = expr.left
        elif isinstance(expr, ast.Call):
            node = expr
        if node is None or not isinstance(node.func, ast.Name) or node.func.id != entry:
            return Verdict(correct=False, status="unparseable",
                           reason=f"expected an assertion calling {entry}(...)")
        parsed = ast.unparse(node)
        predicted = _literal_args(node)
        gold = _gold_args(entry, question.gold)
        # The original arguments are right without running anything, but only as the very
        # same values: True or 1.0 for 1 are equal under == and still another input to a
        # program that looks at types (isinstance, type(x), json.dumps, ...); those run.
        if predicted is not None and gold is not None and \
                len(gold[0]) == len(predicted[0]) and gold[1].keys() == predicted[1].keys() and \
                all(_same_value(a, b) for a, b in zip(gold[0], predicted[0], strict=True)) and \
                all(_same_value(gold[1][k], predicted[1][k]) for k in gold[1]):
            return Verdict(correct=True, status="correct", parsed=parsed)
        # Other arguments (literals, or expressions such as the lambdas CRUXEval accepts):
        # the reference program runs on them in the sandbox, the default one when none is
        # given, so that a correct answer is never paid 0. The arguments pass the answer
        # gate first; the expected output never enters the sandbox, and the comparison
        # happens here.
        from stepreward.questions._gate import check_expression, program_globals

        if predicted is not None and contains_numpy(predicted):
            # Literal arguments with numpy values, which the gate's builtins cannot spell:
            # the call runs as rendered here from the parsed values, never the answer's text
            # (numpy must be pre-loaded in the sandbox).
            expression = _numpy_call_text(entry, predicted)
        else:
            why = check_expression(node, entry, call_of_entry=True,
                                   readable=program_globals(source, entry))
            if why:
                return Verdict(correct=False, status="unparseable", parsed=parsed, reason=why)
            expression = parsed
        if not source:
            return Verdict(correct=False, status="unverified", parsed=parsed,
                           reason="the arguments differ from the original ones and no program "
                                  "was given to check them against")
        from stepreward.trace._api import default_sandbox, eval_call

        outcome = eval_call(source, expression, sandbox=sandbox or default_sandbox(),
                            max_value_bytes=value_bytes_bound(question.info["output"]))
        if outcome is None or not outcome.is_literal:
            return Verdict(correct=False, status="wrong", parsed=parsed,
                           reason="the call with these arguments does not return a value")
        ok = values_equal(outcome.to_python(), from_literal(question.info["output"]),
                          float_tol=float_tol, precision="expected")
        return Verdict(correct=ok, status="correct" if ok else "wrong", parsed=parsed,
                       reason=None if ok else "the call returns a different value")


    def executable(self, expr: ast.expr, question: Question, *, call: str,
                   entry: str | None, source: str = "") -> tuple[str, Any] | Verdict:
        """The answer's call of the function (its arguments gated, reading at most the
        program's own variables, or rendered from parsed numpy literals), to evaluate with the
        program loaded, and the output to compare with."""
        from stepreward.questions._gate import check_expression, program_globals

        node = expr.left if isinstance(expr, ast.Compare) else expr
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == entry):
            return Verdict(correct=False, status="unparseable",
                           reason=f"expected a call of {entry}(...)")
        # Literal numpy arguments run as the trainer renders them, as under the literal policy.
        numpy_call = numpy_input_call(node, entry)
        if numpy_call is None:
            why = check_expression(node, entry, call_of_entry=True,
                                   readable=program_globals(source, entry))
            if why:
                return Verdict(correct=False, status="unparseable", reason=why)
        return numpy_call or ast.unparse(node), from_literal(question.info["output"])


def _same_value(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same value of the same types all the way down (their
    canonical literals are one text), which ``==`` does not tell (``1 == 1.0 == True``)."""
    la = to_literal(a, max_items=200_000)
    if la is NOT_LITERAL:
        return False
    lb = to_literal(b, max_items=200_000)
    return lb is not NOT_LITERAL and dumps_literal(la) == dumps_literal(lb)

def numpy_input_call(node: ast.Call, entry: str) -> str | None:
    """The call to run for an input answer whose arguments are literals holding numpy values
    (rendered from the parsed values, never the answer's text), else None."""
    predicted = _literal_args(node)
    if predicted is None or not contains_numpy(predicted):
        return None
    return _numpy_call_text(entry, predicted)


def _numpy_call_text(entry: str, args: tuple[list[Any], dict[str, Any]]) -> str:
    """``f(np.array([...]), k=...)`` with ``np`` bound to numpy whatever the program calls it."""
    parts = [render_literal(to_literal(a)) for a in args[0]]
    parts += [f"{k}={render_literal(to_literal(v))}" for k, v in args[1].items()]
    return f"(lambda np: {entry}({', '.join(parts)}))(__import__('numpy'))"


def _gold_args(entry: str, gold: Any) -> tuple[list[Any], dict[str, Any]] | None:
    try:
        gold_call = ast.parse(f"{entry}({gold})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return _literal_args(gold_call) if isinstance(gold_call, ast.Call) else None


register_kind(InputKind())
