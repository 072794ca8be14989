"""The question-kind registry: one record per kind, and everything that lists kinds reads it."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import stepreward as sr
import stepreward.questions._kind as kind_module
from stepreward.cli import build_parser
from stepreward.questions import (
    DEFAULT_KINDS,
    KINDS,
    Candidate,
    Context,
    QuestionKind,
    get_kind,
    register_kind,
    split_kinds,
    unregister_kind,
)
from stepreward.scoring import COMPONENTS
from stepreward.types import Question, Verdict
from stepreward.values import normalize_type_name

KINDS_DIR = Path(kind_module.__file__).parent / "kinds"


class ResultTypeKind(QuestionKind):
    """A kind added in one file: the type of the value the call returns."""

    name = "result_type"
    description = "the type of the value the call returns"
    order = 70

    def candidates(self, ctx: Context) -> list[Candidate]:
        t = ctx.trace
        if t.status != "ok" or t.result is None:
            return []
        q = Question(kind=self.name, gold=t.result.type_name, gold_text=t.result.type_name,
                     text=f"What is the type of the value `{ctx.call.strip()}` returns?")
        return [Candidate(q, 1.0, -1)]

    def grade(self, answer: str, question: Question, **_: object) -> Verdict:
        ok = normalize_type_name(answer) == normalize_type_name(str(question.gold))
        return Verdict(correct=ok, status="correct" if ok else "wrong", parsed=answer,
                       reason=None if ok else "another type")


def test_the_built_in_kinds_are_one_module_each_in_order() -> None:
    modules = sorted(info.name for info in pkgutil.iter_modules([str(KINDS_DIR)]))
    assert modules == ["branch", "coverage", "input", "next_statement", "output", "state"]
    assert list(KINDS) == ["output", "input", "next_statement", "state", "coverage", "branch"]
    for name in modules:
        module = importlib.import_module(f"stepreward.questions.kinds.{name}")
        assert type(KINDS[name]).__module__ == module.__name__
    assert DEFAULT_KINDS == ("output", "next_statement", "state")
    assert COMPONENTS[:-1] == tuple(KINDS) and COMPONENTS[-1] == "format"
    assert [k for k, v in KINDS.items() if v.is_io] == ["output", "input"]
    assert [k for k, v in KINDS.items() if v.multiline] == ["output", "input", "state"]
    assert [k for k, v in KINDS.items() if v.hides_call] == ["input"]
    assert [k for k, v in KINDS.items() if v.partial_credit] == ["state"]
    assert [k for k, v in KINDS.items() if v.runs_program] == ["input"]


def test_a_kind_registered_in_one_place_is_asked_graded_scored_and_listed(
        sandbox: sr.Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    register_kind(ResultTypeKind())
    try:
        assert list(KINDS)[-1] == "result_type" and get_kind("result_type").order == 70
        src = "def f(x):\n    y = [x]\n    return tuple(y)"
        s = sr.build_sample(src, "f(1)", kinds=("output", "result_type"), sandbox=sandbox)
        assert [q.kind for q in s.questions] == ["output", "result_type"]
        good = sr.score(s.gold_completion(), s)
        assert good.reward == 1.0 and good.components["result_type"] == 1.0
        wrong = sr.score("<answer>\nassert f(1) == (1,)\nlist\n</answer>", s)
        # A step kind: the output answer gates, the new kind is a step (half the reward).
        assert wrong.reward == 0.5 and wrong.components["result_type"] == 0.0
        assert sr.Sample.from_row(s.to_row()).questions[1].kind == "result_type"
        assert split_kinds(("result_type", "input")) == [("result_type",), ("input",)]
        with pytest.raises(SystemExit):
            build_parser().parse_args(["sample", "--help"])
        assert "result_type" in " ".join(capsys.readouterr().out.split())
    finally:
        unregister_kind("result_type")
    assert "result_type" not in KINDS
    with pytest.raises(ValueError, match="unknown question kind 'result_type'"):
        get_kind("result_type")


def test_registration_refuses_what_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="exists; pass replace=True"):
        register_kind(get_kind("state"))
    with pytest.raises(TypeError, match="takes a QuestionKind"):
        register_kind("state")  # type: ignore[arg-type]

    class Nameless(QuestionKind):
        name = "not a name"
        description = "x"

    with pytest.raises(ValueError, match="identifier"):
        register_kind(Nameless())


def test_a_kind_that_hides_the_call_stands_alone() -> None:
    class Secret(ResultTypeKind):
        name = "secret"
        hides_call = True

    register_kind(Secret())
    try:
        assert split_kinds(("output", "secret", "state")) == [("output", "state"), ("secret",)]
        with pytest.raises(ValueError, match="a 'secret' question cannot share a sample"):
            sr.questions.check_kinds(("secret", "state"))
    finally:
        unregister_kind("secret")


def test_an_io_kind_written_before_executable_took_the_source_still_runs(
        sandbox: sr.Sandbox) -> None:
    """``executable(expr, question, *, call, entry)`` without ``source``: the execute policy
    still grades with it (only kinds that take ``source`` get the program)."""
    import ast

    from stepreward.questions.kinds.output import OutputKind

    class OldOutput(OutputKind):
        name = "old_output"
        default = False

        def executable(self, expr: ast.expr, question: Question, *, call: str,
                       entry: str | None) -> tuple[str, object] | Verdict:
            return super().executable(expr, question, call=call, entry=entry)

    register_kind(OldOutput())
    try:
        s = sr.build_sample("def f(x):\n    return x * 2", "f(4)", kinds=("output",))
        old = s.model_copy(update={"questions": [
            q.model_copy(update={"kind": "old_output"}) for q in s.questions]})
        for answer, want in (("8", 1.0), ("4 + 4", 1.0), ("9", 0.0)):
            got = sr.score(f"<answer>\nassert f(4) == {answer}\n</answer>", old,
                           policy="execute", sandbox=sandbox)
            assert got.verdicts[0].correct is (want == 1.0), (answer, got.verdicts)
    finally:
        unregister_kind("old_output")


def test_doctests() -> None:
    modules = [kind_module, importlib.import_module("stepreward.questions._kinds")]
    results = [doctest.testmod(m) for m in modules]
    assert sum(r.failed for r in results) == 0 and sum(r.attempted for r in results) >= 8
