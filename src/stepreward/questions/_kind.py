"""What a question kind is: the record every kind registers, and what its methods are given.

A kind is one record (:class:`QuestionKind`): how it finds questions in a trace, each with its
gold answer and the text that asks it (:meth:`~QuestionKind.candidates`), how it grades an
answer (:meth:`~QuestionKind.grade`), and the facts the rest of the library reads instead of
naming kinds: whether it is an I/O question (:attr:`~QuestionKind.is_io`: it gates the reward
and the ``execute`` policy runs it), whether its answers may span lines, whether its prompt
hides the call (then it stands alone in a sample), whether it gives half credit, whether it is
asked by default. :func:`register_kind` adds one; ``stepreward.questions.KINDS`` lists them.
The built-in kinds are one module each in ``stepreward/questions/kinds/``.
"""

from __future__ import annotations

import ast
import json
import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from stepreward.types import Question, Trace, Verdict

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stepreward.sandbox._pool import Sandbox

__all__ = ["REGISTRY", "Candidate", "Context", "QuestionKind", "ordinal", "parse_assert",
           "register_kind", "strip_answer", "unregister_kind", "value_bytes_bound", "verdict",
           "yes_no"]


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


def verdict(ok: bool, parsed: Any, why: str) -> Verdict:
    return Verdict(correct=ok, status="correct" if ok else "wrong", parsed=str(parsed),
                   reason=None if ok else why)


def value_bytes_bound(expected: Any) -> int:
    """How much literal text an answer's value may take to be graded against ``expected``
    (a canonical literal): four times its own, and 64 KiB. A value far larger cannot equal
    it, and the trainer need not read it to know.

    Example:
        >>> value_bytes_bound([1, 2]) == 4 * 6 + (64 << 10)
        True
    """
    try:
        size = len(json.dumps(expected))
    except (TypeError, ValueError, RecursionError):
        size = 0
    return 4 * size + (64 << 10)


def strip_answer(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "`":
        text = text.strip("`").strip()
    return text


def parse_assert(answer: str) -> ast.expr | None:
    """The tested expression of ``assert EXPR`` (no message), or a bare expression; else None.

    Example:
        >>> ast.unparse(parse_assert("assert f(1) == 2"))
        'f(1) == 2'
    """
    from stepreward.questions._gate import parse_answer

    tree = parse_answer(strip_answer(answer))
    if not isinstance(tree, ast.Module) or len(tree.body) != 1:
        return None
    stmt = tree.body[0]
    if isinstance(stmt, ast.Assert) and stmt.msg is None:
        return stmt.test
    if isinstance(stmt, ast.Expr):
        return stmt.value
    return None


YES = {"yes", "y", "true", "1", "executed", "taken"}
NO = {"no", "n", "false", "0", "not executed", "never", "not taken"}


def yes_no(answer: str) -> bool | None:
    """True for yes/true/taken..., False for no/false/never..., else None.

    Example:
        >>> yes_no("Yes."), yes_no("false"), yes_no("maybe")
        (True, False, None)
    """
    text = strip_answer(answer).strip().rstrip(".").strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    return None


class QuestionKind:
    """One kind of question about a traced call: a record of what it asks and how it grades.

    Subclass it, set the class attributes, define :meth:`candidates` and :meth:`grade`, and
    register an instance (see docs/architecture.md, "How to add a question kind").

    Example:
        >>> from stepreward.questions import get_kind
        >>> k = get_kind("state")
        >>> k.name, k.is_io, k.multiline, k.partial_credit
        ('state', False, True, True)
    """

    #: The kind's name, as samples, rows, rewards and the command line write it.
    name: ClassVar[str]
    #: What it asks, in a few words (the command line's help lists them).
    description: ClassVar[str]
    #: Where it sorts among the kinds (components, help, the order of questions in a prompt).
    order: ClassVar[int] = 100
    #: An I/O question (the call's output or input): it gates the reward, the other kinds are
    #: the steps; the ``execute`` policy runs its answers with :meth:`executable`.
    is_io: ClassVar[bool] = False
    #: Whether an answer may continue over lines (a value pretty-printed over several).
    multiline: ClassVar[bool] = False
    #: Whether its prompt hides the call (input prediction): then it stands alone in a sample.
    hides_call: ClassVar[bool] = False
    #: Whether grading an answer may run the program in the sandbox (batches then grade in
    #: parallel, and a sandbox is passed to :meth:`grade`).
    runs_program: ClassVar[bool] = False
    #: Whether its verdicts carry half credit (``Verdict.partial``) for
    #: ``RewardConfig(state_credit="half")``.
    partial_credit: ClassVar[bool] = False
    #: Whether it is among the kinds asked by default (``DEFAULT_KINDS``).
    default: ClassVar[bool] = False
    #: Made-up answer lines in this kind's form, for the prompt's example answer block (the
    #: i-th question of the kind shows the i-th, cycling). They name no program of a sample.
    examples: ClassVar[tuple[str, ...]] = ("7",)

    def candidates(self, ctx: Context) -> list[Candidate]:
        """The questions this kind can ask about the run, each with its gold answer, the line
        that states it (``gold_text``), the text that asks it, and how informative it is."""
        raise NotImplementedError

    def grade(self, answer: str, question: Question, *, float_tol: float = 0.0,
              sandbox: Sandbox | None = None, source: str = "", call: str = "") -> Verdict:
        """The verdict on one answer (its text as read from the answer block)."""
        raise NotImplementedError

    def answer_parses(self, text: str) -> bool:
        """Whether several lines joined are one well-formed answer of this kind (scoring keeps
        the lines apart otherwise). By default: one assertion or one expression."""
        from stepreward.questions._gate import parse_answer

        tree = parse_answer(text.strip())
        return isinstance(tree, ast.Module) and len(tree.body) == 1 and isinstance(
            tree.body[0], (ast.Assert, ast.Expr))

    def executable(self, expr: ast.expr, question: Question, *, call: str,
                   entry: str | None, source: str = "") -> tuple[str, Any] | Verdict:
        """Under the ``execute`` policy (CRUXEval's grading), for an I/O kind: the expression
        to evaluate with the program loaded and the gold value to compare its result with, or
        the verdict when the answer cannot run. ``expr`` is the answer's tested expression;
        ``source`` the program (whose own variables an input answer may read)."""
        raise NotImplementedError(f"the {self.name!r} kind has no execute policy")


_lock = threading.Lock()
_registry: dict[str, QuestionKind] = {}
#: Every registered kind by name, in order (a read-only view that follows registrations).
REGISTRY: Mapping[str, QuestionKind] = MappingProxyType(_registry)


def register_kind(kind: QuestionKind, *, replace: bool = False) -> QuestionKind:
    """Add ``kind`` to the registry (``replace=True`` to overwrite one of the same name).

    Example:
        >>> from stepreward.questions import get_kind
        >>> register_kind(get_kind("state"))
        Traceback (most recent call last):
        ...
        ValueError: a question kind named 'state' exists; pass replace=True to overwrite it
    """
    if not isinstance(kind, QuestionKind):
        raise TypeError(f"register_kind takes a QuestionKind, got {type(kind).__name__}")
    name = getattr(kind, "name", "")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a kind's name is a Python identifier, got {name!r}")
    if not isinstance(getattr(kind, "description", None), str):
        raise ValueError(f"the kind {name!r} has no description")
    with _lock:
        if name in _registry and not replace:
            raise ValueError(f"a question kind named {name!r} exists; pass replace=True to "
                             "overwrite it")
        _registry[name] = kind
        ordered = sorted(_registry.items(), key=lambda item: (item[1].order, item[0]))
        _registry.clear()
        _registry.update(ordered)
    return kind


def unregister_kind(name: str) -> None:
    """Remove a kind from the registry (for tests of kinds added at run time)."""
    with _lock:
        _registry.pop(name, None)
