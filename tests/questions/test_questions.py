"""Question kinds: generation, gold answers, grading, selection, prompts and sample rows.

W-n/B-n codes: the reference implementation's defects, as docs/method.md defines them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import stepreward as sr
from programs import PAPER
from stepreward.questions import KINDS, build_samples, get_kind, sample_from_trace

ALL_BUT_INPUT = ("output", "next_statement", "state", "coverage", "branch")


def grade(s: sr.Sample, i: int, answer: str, sandbox: sr.Sandbox | None = None) -> sr.Verdict:
    q = s.questions[i]
    return get_kind(q.kind).grade(answer, q, source=s.source, call=s.call, sandbox=sandbox)


def find(s: sr.Sample, kind: str, **kw: object) -> int:
    for i, q in enumerate(s.questions):
        if q.kind == kind and all(getattr(q, k) == v for k, v in kw.items()):
            return i
    raise AssertionError(f"no {kind} question with {kw}")


@pytest.fixture(scope="module")
def paper(sandbox: sr.Sandbox) -> sr.Sample:
    return sr.build_sample(PAPER, "f([3, 4, 6, 9], 3)", kinds=ALL_BUT_INPUT, max_per_kind=30,
                           sandbox=sandbox)


def test_paper_gold_answers(paper: sr.Sample) -> None:
    golds = {(q.kind, q.line, q.occurrence, q.var): q.gold_text for q in paper.questions}
    assert golds[("output", None, None, None)] == "assert f([3, 4, 6, 9], 3) == [3]"
    assert golds[("next_statement", 2, 1, None)] == "for x in nums:"
    assert golds[("next_statement", 4, 2, None)] == "k = k + 1"
    assert golds[("next_statement", 3, 5, None)] == "s = set()"
    assert golds[("next_statement", 9, 1, None)] == "-1"
    assert golds[("state", 8, 1, "s")] == "set(); set"
    assert golds[("state", 7, 3, "k")] == "6; int"
    assert golds[("state", 5, 1, "out")] == "[3]; list"
    assert golds[("coverage", 7, None, None)] == "yes"
    assert golds[("branch", 4, 1, None)] == "True" and golds[("branch", 4, 2, None)] == "False"
    # Nothing is asked about a statement's non-existent execution.
    assert ("next_statement", 9, 2, None) not in golds


def test_every_kind_scores_its_own_gold_on_many_programs(sandbox: sr.Sandbox,
                                                         shared_data: Path) -> None:
    rows = [json.loads(line) for line in
            (shared_data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()[::4]]
    items = [(r["code"], f"f({r['input']})") for r in rows]
    seen: dict[str, int] = dict.fromkeys(KINDS, 0)
    for kinds in (ALL_BUT_INPUT, ("input",)):
        for s in build_samples(items, kinds=kinds, max_per_kind=4, sandbox=sandbox):
            if s is None:  # only input questions may be missing (a callable argument)
                assert kinds == ("input",)
                continue
            for i, q in enumerate(s.questions):
                v = grade(s, i, q.gold_text)
                assert v.correct and v.status == "correct", (s.source, q, v)
                seen[q.kind] += 1
    assert all(n > 20 for n in seen.values()), seen


WRONG = [
    ("output", "assert f([3, 4, 6, 9], 3) == [3, 6]", "wrong"),
    ("output", "assert f([3, 4, 6, 9], 3) == f([3, 4, 6, 9], 3)", "unparseable"),
    ("output", "assert f([3, 4, 6, 9], 3) or True", "unparseable"),
    ("output", "assert f([3, 4, 6, 9], 3) is not None", "unparseable"),
    ("output", "assert f([1], 3) == [3]", "wrong"),
    ("output", "assert f([3, 4, 6, 9], 3) == [3] == [3]", "unparseable"),
    ("output", "assert f([3, 4, 6, 9], 3) == __import__('os').system('x')", "unparseable"),
    ("output", "", "unparseable"),
    ("next_statement", "k = k + 1", "wrong"),
    ("next_statement", "-1", "wrong"),
    ("next_statement", "", "unparseable"),
    ("state", "[3]", "unparseable"),
    ("state", "[3]; tuple", "wrong"),
    ("state", "(3,); list", "wrong"),
    ("coverage", "maybe", "unparseable"),
    ("branch", "no", "wrong"),
]


@pytest.mark.parametrize(("kind", "answer", "status"), WRONG)
def test_wrong_and_hacked_answers(paper: sr.Sample, kind: str, answer: str,
                                  status: str) -> None:
    i = {"output": find(paper, "output"),
         "next_statement": find(paper, "next_statement", line=4, occurrence=1),
         "state": find(paper, "state", line=5, occurrence=1, var="out"),
         "coverage": find(paper, "coverage", line=2),
         "branch": find(paper, "branch", line=4, occurrence=1)}[kind]
    v = grade(paper, i, answer)
    assert not v.correct and v.status == status, v
    assert v.reason


RIGHT = [
    ("output", "assert f([3,4,6,9],3)==[3]"),  # reformatted call (B-8)
    ("output", "`assert f([3, 4, 6, 9], 3) == [3]`"),
    ("output", "[3]"),
    ("output", "[3] == f([3, 4, 6, 9], 3)"),
    ("next_statement", "out.append(x)".replace("out.append(x)", "out . append( x )")),
    ("next_statement", "5"),
    ("next_statement", "5 | out.append(x)"),
    ("state", "[3]; list"),
    ("state", "[3] ; <class 'list'>"),
    ("coverage", "Yes."),
    ("branch", "true"),
]


@pytest.mark.parametrize(("kind", "answer"), RIGHT)
def test_tolerated_answer_forms(paper: sr.Sample, kind: str, answer: str) -> None:
    i = {"output": find(paper, "output"),
         "next_statement": find(paper, "next_statement", line=4, occurrence=1),
         "state": find(paper, "state", line=5, occurrence=1, var="out"),
         "coverage": find(paper, "coverage", line=2),
         "branch": find(paper, "branch", line=4, occurrence=1)}[kind]
    v = grade(paper, i, answer)
    assert v.correct, v


def test_state_semicolons_in_values_and_unquoted_strings(sandbox: sr.Sandbox) -> None:
    src = "def f():\n    a = 'x;y'\n    b = '12'\n    c = 1.5\n    return a\n"
    s = sr.build_sample(src, "f()", kinds=("state",), max_per_kind=5, sandbox=sandbox)
    a, b, c = (find(s, "state", var=v) for v in "abc")
    assert grade(s, a, "'x;y'; str").correct  # B-10: rsplit on the last semicolon
    assert grade(s, b, "12; str").correct and grade(s, b, "'12'; str").correct
    assert not grade(s, b, "12; int").correct
    assert grade(s, c, "1.5; float").correct and not grade(s, c, "1.5; int").correct
    v = grade(s, c, "2.5; float")
    assert v.partial == 0.5 and v.reason == "wrong value"
    q = s.questions[c]
    assert get_kind("state").grade("1.50001; float", q, float_tol=1e-3).correct


def test_output_equality_follows_python(sandbox: sr.Sandbox) -> None:
    s = sr.build_sample("def f():\n    return 1\n", "f()", kinds=("output",), sandbox=sandbox)
    assert grade(s, 0, "assert f() == 1.0").correct  # 1 == 1.0 in Python, as in CRUXEval
    assert grade(s, 0, "assert f() == True").correct
    assert not grade(s, 0, "assert f() == '1'").correct


def test_input_questions(sandbox: sr.Sandbox) -> None:
    s = sr.build_sample("def f(a, b):\n    return a + b\n", "f(2, 3)", kinds=("input",),
                        sandbox=sandbox)
    q = s.questions[0]
    assert q.text.endswith("assert f(??) == 5") and q.gold_text == "assert f(2, 3) == 5"
    assert grade(s, 0, "assert f(2, 3) == 5").correct
    assert grade(s, 0, "f(2, 3)").correct
    # Other arguments are checked in the default sandbox when none is given (never paid 0).
    assert grade(s, 0, "assert f(1, 4) == 5").correct
    v = get_kind("input").grade("assert f(1, 4) == 5", s.questions[0])  # no program given
    assert v.status == "unverified" and not v.correct
    assert grade(s, 0, "assert f(1, 4) == 5", sandbox=sandbox).correct  # any args that work
    assert grade(s, 0, "assert f(4, 4) == 5", sandbox=sandbox).status == "wrong"
    assert grade(s, 0, "assert f(1, 'x') == 5", sandbox=sandbox).status == "wrong"
    # W-2: only the arguments count; a redefined f or other code is not even parsed as such.
    assert grade(s, 0, "def f(a, b): return 5").status == "unparseable"
    assert grade(s, 0, "assert f(open('x'), 1) == 5").status == "unparseable"
    with pytest.raises(ValueError, match="give away"):
        sr.build_sample("def f(a):\n    return a\n", "f(1)", kinds=("output", "input"))


def test_unaskable_values_are_never_asked(sandbox: sr.Sandbox) -> None:
    src = ("import collections\ndef f(n):\n    c = collections.Counter('aab')\n"
           "    s = 'z' * n\n    k = 1\n    return c\n")
    s = sr.build_sample(src, "f(500)", kinds=("output", "state"), max_per_kind=10,
                        sandbox=sandbox)
    assert [q.var for q in s.questions if q.kind == "state"] == ["k"]
    assert not [q for q in s.questions if q.kind == "output"]  # a Counter has no literal form


def test_selection_is_deterministic_and_seeded(sandbox: sr.Sandbox) -> None:
    t = sr.trace(PAPER, "f([3, 4, 6, 9], 3)", sandbox=sandbox)
    a = sample_from_trace(t, max_per_kind=3, seed=7)
    b = sample_from_trace(t, max_per_kind=3, seed=7)
    assert a.model_dump_json() == b.model_dump_json()
    others = {sample_from_trace(t, kinds=("state",), max_per_kind=2, seed=k).model_dump_json()
              for k in range(8)}
    assert len(others) > 1
    assert sum(q.kind == "state" for q in a.questions) == 3


def test_prefers_informative_questions(sandbox: sr.Sandbox) -> None:
    t = sr.trace(PAPER, "f([3, 4, 6, 9], 3)", sandbox=sandbox)
    s = sample_from_trace(t, kinds=("next_statement",), max_per_kind=4, seed=0)
    asked = {q.line for q in s.questions}
    assert asked <= {3, 4, 7, 9, 5}  # branch points, loop headers, jumps, the end
    assert 2 not in asked and 8 not in asked  # plain sequential statements come last


def test_prompt_and_answer_format(paper: sr.Sample) -> None:
    assert " 1 | def f(nums, k):" in paper.prompt or "1 | def f(nums, k):" in paper.prompt
    assert "Call: f([3, 4, 6, 9], 3)" in paper.prompt
    for i, q in enumerate(paper.questions, 1):
        assert f"{i}. {q.text}" in paper.prompt
    completion = paper.gold_completion()
    assert completion.startswith("<answer>\n") and completion.endswith("\n</answer>")
    assert completion.count("\n") == len(paper.questions) + 1
    with pytest.raises(ValueError, match="single line"):
        paper.answer_text(["a\nb"])


def test_sample_rows_round_trip(paper: sr.Sample) -> None:
    row = paper.to_row()
    assert all(isinstance(v, (str, int, list)) for v in row.values())
    again = sr.Sample.from_row(json.loads(json.dumps(row)))
    assert again == paper
    assert sr.Sample.from_row(json.dumps(row)) == paper
    with pytest.raises(ValueError):
        sr.Sample.from_row(3)  # type: ignore[arg-type]


def test_samples_from_raising_programs(sandbox: sr.Sandbox) -> None:
    src = "def f(x):\n    y = x + 1\n    return 10 // (y - 2)\n"
    with pytest.raises(ValueError, match=r"raised ZeroDivisionError: .* at line 3"):
        sr.build_sample(src, "f(1)", sandbox=sandbox)
    s = sr.build_sample(src, "f(1)", kinds=("output", "next_statement", "state"),
                        sandbox=sandbox, on_incomplete="keep")
    kinds = [q.kind for q in s.questions]
    assert "output" not in kinds and "next_statement" in kinds
    assert s.questions[find(s, "next_statement", line=3)].gold_text == "-1"
    with pytest.raises(ValueError, match="status"):
        sr.build_sample("def f(:\n", "f()", sandbox=sandbox)
    with pytest.raises(ValueError, match="unknown question kind"):
        sr.build_sample("def f():\n    return 1\n", "f()", kinds=("bogus",), sandbox=sandbox)


@pytest.mark.parametrize(("kinds", "per_kind"), [
    (("output",), 1), (("input",), 1), (("state",), 1), (("next_statement", "state"), 2),
    (("output", "next_statement", "state"), 1), (("output", "next_statement", "state"), 3),
])
def test_example_answer_has_one_line_per_question(kinds: tuple[str, ...], per_kind: int) -> None:
    from stepreward.questions import example_answer, get_kind

    src = "def f(a, b):\n    c = a + b\n    for i in range(3):\n        c += i\n    return c\n"
    s = sr.build_sample(src, "f(1, 2)", kinds=kinds, max_per_kind=per_kind, seed=0)
    block = s.prompt.rsplit("<answer>\n", 1)[1].split("\n</answer>", 1)[0]
    lines = block.split("\n")
    assert len(lines) == len(s.questions) and s.prompt.endswith(example_answer(s.questions))
    for q, line in zip(s.questions, lines, strict=True):
        assert line in get_kind(q.kind).examples  # each line in its question's form
    word = "question of this kind" if len(lines) == 1 else "questions of these kinds"
    assert word in s.prompt
