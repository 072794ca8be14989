"""The question kinds: each generates candidates from a trace, renders them and grades answers."""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from stepreward.types import Question, Step, Trace, Verdict
from stepreward.values import (
    NOT_LITERAL,
    NumpyArray,
    contains_numpy,
    dumps_literal,
    from_literal,
    normalize_type_name,
    parse_value,
    render_literal,
    to_literal,
    values_equal,
)

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["KINDS", "Candidate", "Context", "QuestionKind", "get_kind"]


def ordinal(n: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th'."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{({1: 'st', 2: 'nd', 3: 'rd'}).get(n % 10, 'th')}"


@dataclass
class Candidate:
    """A possible question, with how informative it is (higher is better) and its position."""

    question: Question
    score: float
    position: int  # index of the step it is about (orders the questions like the run)
    key: tuple[Any, ...] = ()  # questions with equal keys are not asked together


@dataclass
class Context:
    """What every kind needs to know about one traced call."""

    source: str
    call: str
    trace: Trace
    lines: list[str] = field(default_factory=list)
    stmts: dict[int, ast.AST] = field(default_factory=dict)  # first line -> statement node
    body_lines: set[int] = field(default_factory=set)  # statement lines inside functions
    call_node: ast.Call | None = None
    entry: str | None = None
    args_text: str | None = None

    @classmethod
    def build(cls, source: str, call: str, trace: Trace) -> Context:
        ctx = cls(source=source, call=call, trace=trace, lines=source.splitlines())
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, (ast.stmt, ast.ExceptHandler)):
                ctx.stmts.setdefault(node.lineno, node)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if inner is not node and isinstance(inner, ast.stmt):
                        ctx.body_lines.add(inner.lineno)
        try:
            expr = ast.parse(call.strip(), mode="eval").body
        except SyntaxError:
            expr = None
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
            ctx.call_node = expr
            ctx.entry = expr.func.id
            text = call.strip()
            head = len(expr.func.id)
            if text.startswith(expr.func.id) and text[head:].lstrip().startswith("(") \
                    and text.endswith(")"):
                inner_text = text[head:].lstrip()[1:-1].strip()
                ctx.args_text = inner_text
        return ctx

    def code(self, line: int) -> str:
        """The source text of a line, stripped (empty if out of range)."""
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""


def _verdict(ok: bool, parsed: Any, why: str) -> Verdict:
    return Verdict(correct=ok, status="correct" if ok else "wrong", parsed=str(parsed),
                   reason=None if ok else why)


def _strip_answer(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "`":
        text = text.strip("`").strip()
    return text


class QuestionKind:
    """Base of all kinds: ``candidates`` from a trace, ``grade`` an answer line."""

    name: ClassVar[str]
    description: ClassVar[str]

    def candidates(self, ctx: Context) -> list[Candidate]:
        raise NotImplementedError

    def grade(self, answer: str, question: Question, *, float_tol: float = 0.0,
              sandbox: Sandbox | None = None, source: str = "", call: str = "") -> Verdict:
        raise NotImplementedError


# ---------------------------------------------------------------------------------- output


def _find_calls(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
               for n in ast.walk(node))


def _parse_assert(answer: str) -> ast.expr | None:
    from stepreward.questions._gate import parse_answer

    tree = parse_answer(_strip_answer(answer))
    if not isinstance(tree, ast.Module) or len(tree.body) != 1:
        return None
    stmt = tree.body[0]
    if isinstance(stmt, ast.Assert) and stmt.msg is None:
        return stmt.test
    if isinstance(stmt, ast.Expr):
        return stmt.value
    return None


class OutputKind(QuestionKind):
    name = "output"
    description = "predict the value the call returns (complete the assertion)"

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
        expr = _parse_assert(answer)
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
        gold = _decode(question.gold)
        ok = values_equal(value, gold, float_tol=float_tol, precision="expected")
        reason = "the value differs from the return value"
        if not ok and type(gold) is NumpyArray and type(value) is not NumpyArray:
            reason = "the call returns a numpy.ndarray: write it as np.array([...])"
        return Verdict(correct=ok, status="correct" if ok else "wrong", parsed=segment,
                       reason=None if ok else reason)


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


def _decode(lit: Any) -> Any:
    return from_literal(lit)


# ---------------------------------------------------------------------------------- input


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
    name = "input"
    description = "find arguments for which the call returns the given value"

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
        expr = _parse_assert(answer)
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
        ok = values_equal(outcome.to_python(), _decode(question.info["output"]),
                          float_tol=float_tol, precision="expected")
        return Verdict(correct=ok, status="correct" if ok else "wrong", parsed=parsed,
                       reason=None if ok else "the call returns a different value")


def _same_value(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same value of the same types all the way down (their
    canonical literals are one text), which ``==`` does not tell (``1 == 1.0 == True``)."""
    la = to_literal(a, max_items=200_000)
    if la is NOT_LITERAL:
        return False
    lb = to_literal(b, max_items=200_000)
    return lb is not NOT_LITERAL and dumps_literal(la) == dumps_literal(lb)


def value_bytes_bound(expected: Any) -> int:
    """How much literal text an answer's value may take to be graded against ``expected``
    (a canonical literal): four times its own, and 64 KiB. A value far larger cannot equal
    it, and the trainer need not read it to know."""
    try:
        size = len(json.dumps(expected))
    except (TypeError, ValueError, RecursionError):
        size = 0
    return 4 * size + (64 << 10)


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


# ---------------------------------------------------------------------------------- next


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
    name = "next_statement"
    description = "the statement executed right after a given execution of a line"

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
        text = _strip_answer(answer)
        if not text:
            return Verdict(correct=False, status="unparseable", reason="empty answer")
        gold_line = question.info.get("next_line")
        if text in ("-1", "None", "none", "end"):
            return _verdict(question.gold == "-1", "-1", "the program does not end there")
        if text.isdigit() and text.isascii() and len(text) < 10:  # a line number, too
            return _verdict(int(text) == gold_line, int(text), "another line runs next")
        prefix = _LINE_PREFIX.match(text)
        if prefix:
            text = text[prefix.end():]
        gold = str(question.gold)
        if "".join(text.split()) != "".join(gold.split()):
            # Equal token sequences concatenate to equal strings: this cannot match.
            return _verdict(False, text, "another statement runs next")
        got, want = _tokens(text), _tokens(gold)
        if got is None or want is None:
            ok = " ".join(text.split()) == " ".join(str(question.gold).split())
        else:
            ok = got == want
        return _verdict(ok, text, "another statement runs next")


def _following_statement(ctx: Context, line: int) -> int:
    later = [n for n in ctx.stmts if n > line]
    return min(later) if later else line + 1


# ---------------------------------------------------------------------------------- state


def _split_state(answer: str) -> tuple[str, str] | None:
    text = _strip_answer(answer)
    if ";" not in text:
        return None
    value, _, type_text = text.rpartition(";")
    return value.strip(), type_text.strip()


class StateKind(QuestionKind):
    name = "state"
    description = "the value and type of a variable right after a given execution of a line"

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
        gold_value = _decode(question.gold["value"])
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


# ---------------------------------------------------------------------------------- coverage

_YES = {"yes", "y", "true", "1", "executed", "taken"}
_NO = {"no", "n", "false", "0", "not executed", "never", "not taken"}


def _yes_no(answer: str) -> bool | None:
    text = _strip_answer(answer).strip().rstrip(".").strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return None


class CoverageKind(QuestionKind):
    name = "coverage"
    description = "whether a line executes at all during the call"

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
        got = _yes_no(answer)
        if got is None:
            return Verdict(correct=False, status="unparseable", reason="expected yes or no")
        return _verdict(got == question.gold, got,
                        "the line does run" if question.gold else "the line never runs")


# ---------------------------------------------------------------------------------- branch


def _next_in_frame(t: Trace, i: int) -> Step | None:
    frame = t.steps[i].frame
    for step in t.steps[i + 1:]:
        if step.frame == frame:
            return step
    return None


class BranchKind(QuestionKind):
    name = "branch"
    description = "which way an if or while condition went on a given evaluation"

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
        got = _yes_no(answer)
        if got is None:
            return Verdict(correct=False, status="unparseable", reason="expected true or false")
        return _verdict(got == question.gold, got,
                        f"the condition is {'true' if question.gold else 'false'} then")


KINDS: dict[str, QuestionKind] = {k.name: k for k in (
    OutputKind(), InputKind(), NextStatementKind(), StateKind(), CoverageKind(), BranchKind())}


def get_kind(name: str) -> QuestionKind:
    """The registered kind called ``name``.

    Example:
        >>> get_kind("state").name
        'state'
    """
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown question kind {name!r}; known: {sorted(KINDS)}") from None

