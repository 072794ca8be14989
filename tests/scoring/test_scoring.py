"""score(): parsing, hack resistance, presets, the reference's quirks, fuzzing.

W-n/B-n codes: the reference implementation's defects, as docs/method.md defines them.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stepreward as sr
from programs import PAPER
from stepreward.scoring import extract_answer_block, split_answers
from stepreward.values import NumpyArray, NumpyScalar

CALL = "f([3, 4, 6, 9], 3)"


@pytest.fixture(scope="module")
def sample(sandbox: sr.Sandbox) -> sr.Sample:
    return sr.build_sample(PAPER, CALL, kinds=("output", "next_statement", "state"),
                           max_per_kind=3, seed=0, sandbox=sandbox)


@pytest.fixture(scope="module")
def input_sample(sandbox: sr.Sandbox) -> sr.Sample:
    return sr.build_sample("def f(a, b):\n    return a * b + 1\n", "f(3, 4)", kinds=("input",),
                           sandbox=sandbox)


def answers(s: sr.Sample, replace: dict[int, str] | None = None) -> list[str]:
    out = s.gold_answers()
    for i, a in (replace or {}).items():
        out[i] = a
    return out


def test_gold_scores_the_maximum_in_every_preset(sample: sr.Sample,
                                                 sandbox: sr.Sandbox) -> None:
    gold = sample.gold_completion()
    assert sr.score(gold, sample).reward == 1.0
    assert sr.score(gold, sample, preset="execverify").reward == 2.0
    assert sr.score(gold, sample, preset="execverify_reference", sandbox=sandbox).reward == 2.0
    assert sr.score(gold, sample, policy="execute", sandbox=sandbox).reward == 1.0
    sc = sr.score(gold, sample)
    assert all(v.correct for v in sc.verdicts) and sc.parse_error is None
    assert sc.components["format"] == 1.0 and sc.components["input"] is None
    assert sc.components["output"] == sc.components["state"] == 1.0


def test_row_dict_and_chat_completions(sample: sr.Sample) -> None:
    gold = sample.gold_completion()
    chat = [{"role": "assistant", "content": "thinking...\n" + gold}]
    assert sr.score(chat, sample.to_row()).reward == 1.0
    assert sr.score(gold, sample.model_dump_json() and sample.to_row()).reward == 1.0


def test_partial_credit_and_gate(sample: sr.Sample) -> None:
    n = len(sample.questions)
    wrong_steps = sample.answer_text(answers(sample, {i: "nope; int" for i in range(1, n)}))
    sc = sr.score(wrong_steps, sample)
    assert sc.reward == 0.5 and sc.components["output"] == 1.0
    wrong_io = sample.answer_text(answers(sample, {0: "assert f([3, 4, 6, 9], 3) == [9]"}))
    assert sr.score(wrong_io, sample).reward == 0.0  # gated
    ungated = sr.RewardConfig(gate="none")
    assert sr.score(wrong_io, sample, preset=ungated).reward == 0.5
    # A missing line only costs its own question (B-9).
    missing = sample.answer_text(answers(sample)[:-1])
    sc = sr.score(missing, sample)
    assert sc.verdicts[-1].status == "missing" and 0.5 < sc.reward < 1.0
    assert sc.components["format"] == 0.5


HACKS = {
    "tautology": "assert f([3, 4, 6, 9], 3) == f([3, 4, 6, 9], 3)",
    "or_true": "assert f([3, 4, 6, 9], 3) or True",
    "is_not_none": "assert f([3, 4, 6, 9], 3) is not None or 1",
    "not_equal": "assert f([3, 4, 6, 9], 3) != 0",
    "other_call": "assert f([3], 3) == [3]",
    "chained": "assert f([3, 4, 6, 9], 3) == [3] or f(1) == 2",
    "pass": "pass",
    "exit": "import os; os._exit(0)",
    "sys_exit": "exit(0)",
    "redefine": "def f(*a): return [3]",
    "print_fake": "print('[3]')",
    "import": "__import__('os').system('true')",
}


@pytest.mark.parametrize("name", sorted(HACKS))
@pytest.mark.parametrize("policy", ["literal", "execute"])
def test_gamed_output_answers_score_zero(sample: sr.Sample, sandbox: sr.Sandbox, name: str,
                                         policy: str) -> None:
    completion = sample.answer_text(answers(sample, {0: HACKS[name]}))
    sc = sr.score(completion, sample, policy=policy, sandbox=sandbox)  # type: ignore[arg-type]
    assert not sc.verdicts[0].correct, (name, sc.verdicts[0])
    assert sc.reward == 0.0  # the output gate holds
    assert sc.verdicts[0].reason


def test_the_reference_preset_reproduces_its_reward_hacks(sample: sr.Sample,
                                                          input_sample: sr.Sample,
                                                          sandbox: sr.Sandbox) -> None:
    ref = "execverify_reference"
    taut = sample.answer_text(answers(sample, {0: HACKS["tautology"]}))
    assert sr.score(taut, sample, preset=ref, sandbox=sandbox).reward == 2.0  # W-1
    assert sr.score(taut, sample, preset="execverify").reward == 0.0
    only_io = sample.answer_text([HACKS["tautology"]])
    assert sr.score(only_io, sample, preset=ref, sandbox=sandbox).reward == 1.0  # B-9
    for code in ("pass", "def f(*a):\n    return 13\nassert f(1) == 13"):
        oi = f"<answer>\n```python\n{code}\n```\n</answer>"
        assert sr.score(oi, input_sample, preset=ref, sandbox=sandbox).reward == 2.0  # W-2
        assert sr.score(oi, input_sample).reward == 0.0
    wrong = sample.answer_text(answers(sample, {0: "assert f([3, 4, 6, 9], 3) == [3, 9]"}))
    assert sr.score(wrong, sample, preset=ref, sandbox=sandbox).reward == 0.0
    reformatted = sample.answer_text(answers(sample, {0: "assert f([3,4,6,9], 3) == [3]"}))
    assert sr.score(reformatted, sample, preset=ref, sandbox=sandbox).reward == 0.0  # B-8
    assert sr.score(reformatted, sample).reward == 1.0
    assert sr.score("no tags", sample, preset=ref, sandbox=sandbox).reward == 0.0


# State-parser probes of the reference notes (section 5.2), on the fixed grader:
# answer, gold literal, gold type, fixed verdict, reference verdict.
STATE_PROBES = [
    ("set(); set", set(), "set", True, True),
    ("set(); str", set(), "set", False, False),
    ("None; NoneType", None, "NoneType", True, True),
    ("None; object", None, "NoneType", False, False),
    ("abc; str", "abc", "str", True, True),
    ("'abc'; str", "abc", "str", True, True),
    ("123; str", "123", "str", True, False),
    ("'a;b'; str", "a;b", "str", True, False),
    ("(1, 2); tuple", (1, 2), "tuple", True, True),
    ("0.3; float", 0.30000000000000004, "float", False, False),
    ("{'a': 1}; dict", {"a": 1}, "dict", True, True),
    ("[1, 2]; <class 'list'>", [1, 2], "list", True, False),
    ("1; integer", 1, "int", True, False),
    ("frozenset({1}); frozenset", frozenset({1}), "frozenset", True, False),
    ("range(0, 3); range", range(3), "range", True, False),
    ("float('inf'); float", float("inf"), "float", True, False),
    # numpy values (decoded as stand-ins: no numpy needed here).
    ("[1, 2]; numpy.ndarray", NumpyArray.from_data([1, 2]), "numpy.ndarray", True, False),
    ("np.array([1, 2]); numpy.ndarray", NumpyArray.from_data([1, 2]), "numpy.ndarray", True,
     False),
    ("array([1, 2]); np.ndarray", NumpyArray.from_data([1, 2]), "numpy.ndarray", True, False),
    ("[1, 2]; list", NumpyArray.from_data([1, 2]), "numpy.ndarray", False, False),
    ("[1.0, 2.0]; numpy.ndarray", NumpyArray.from_data([1, 2]), "numpy.ndarray", False, False),
    ("[[1, 2]]; numpy.ndarray", NumpyArray.from_data([1, 2]), "numpy.ndarray", False, False),
    ("[0.1, 0.5]; ndarray", NumpyArray.from_data([0.1, 0.5], "float32"), "numpy.ndarray", True,
     False),
    ("3; numpy.int64", NumpyScalar("int64", 3), "numpy.int64", True, True),
    ("np.int64(3); np.int64", NumpyScalar("int64", 3), "numpy.int64", True, False),
    ("3; int", NumpyScalar("int64", 3), "numpy.int64", False, False),
    ("np.True_; numpy.bool", NumpyScalar("bool", True), "numpy.bool", True, False),
    ("True; bool_", NumpyScalar("bool", True), "numpy.bool", True, False),
    ("0.1; numpy.float32", NumpyScalar("float32", 0.10000000149011612), "numpy.float32", True,
     False),
    ("np.float64(nan); numpy.float64", NumpyScalar("float64", float("nan")), "numpy.float64",
     True, False),
]


@pytest.mark.parametrize(("answer", "gold", "type_name", "fixed", "reference"), STATE_PROBES)
def test_state_parser_probes(answer: str, gold: object, type_name: str, fixed: bool,
                             reference: bool) -> None:
    from stepreward.questions import get_kind
    from stepreward.scoring._reference import _state_ok
    from stepreward.values import to_literal

    q = sr.Question(kind="state", text="?", line=1, occurrence=1, var="v",
                    gold={"value": to_literal(gold), "type": type_name}, gold_text="")
    assert get_kind("state").grade(answer, q).correct is fixed
    assert _state_ok(answer, q) is reference


# Realistic model answer blocks and what each verdict must be.
REGRESSION = [
    ("fenced and numbered", "```\nAnswer 1: {0}\nAnswer 2: {1}\n```", ["correct", "correct"]),
    ("dot numbering", "1. {0}\n2. {1}", ["correct", "correct"]),
    ("blank lines and CRLF", "\r\n{0}\r\n\r\n{1}\r\n", ["correct", "correct"]),
    ("trailing dots", "{0}.\n{1}", ["correct", "correct"]),
    ("skips one, numbered", "Answer 2: {1}", ["missing", "correct"]),
    ("bare value", "[3]\n{1}", ["correct", "correct"]),
    ("wrong then right", "[3, 9]\n{1}", ["wrong", "correct"]),
    ("prose instead of answers", "The answer is three.\nI think line 5.", ["unparseable", None]),
]


@pytest.mark.parametrize(("name", "template", "expected"), REGRESSION)
def test_realistic_answer_blocks(sandbox: sr.Sandbox, name: str, template: str,
                                 expected: list[str | None]) -> None:
    s = sr.build_sample(PAPER, CALL, kinds=("output", "state"), max_per_kind=1, seed=3,
                        sandbox=sandbox)
    golds = s.gold_answers()
    sc = sr.score("<reasoning>...</reasoning>\n<answer>" + template.format(*golds)
                  + "</answer>", s)
    for want, verdict in zip(expected, sc.verdicts, strict=True):
        if want is not None:
            assert verdict.status == want, (name, sc.verdicts)


def test_answer_block_selection(sample: sr.Sample) -> None:
    gold = sample.gold_completion()
    assert sr.score("no tags at all", sample).parse_error == "no <answer> block"
    assert "not closed" in (sr.score("<answer>\n" + "\n".join(sample.gold_answers()),
                                     sample).parse_error or "")
    # Answers hidden in the reasoning do not count: only the last block is read.
    hidden = "<reasoning>" + gold + "</reasoning>\n<answer>\n</answer>"
    assert sr.score(hidden, sample).reward == 0.0
    # Extra or duplicated blocks: the last one is the answer.
    assert sr.score("<answer>\nnonsense\n</answer>\n" + gold, sample).reward == 1.0
    assert sr.score(gold + "\n<answer>\nnonsense\n</answer>", sample).reward == 0.0
    assert extract_answer_block("<answer>a</answer><answer>b</answer>") == "b"
    assert split_answers("- yes\n* no\n-1").lines == ["yes", "no", "-1"]


def test_same_text_everywhere_gets_no_free_credit(sample: sr.Sample) -> None:
    for text in ("-1", "[3]; list", "yes", "0"):
        sc = sr.score(sample.answer_text([text] * len(sample.questions)), sample)
        assert sc.reward < 0.5, (text, sc.verdicts)


def test_input_questions_policies(input_sample: sr.Sample, sandbox: sr.Sandbox) -> None:
    s = input_sample
    other = s.answer_text(["assert f(1, 12) == 13"])
    # No sandbox given: the default sandbox checks it, so a correct answer is never paid 0.
    assert sr.score(other, s).reward == 1.0
    assert sr.score(other, s, sandbox=sandbox).reward == 1.0  # literal policy + sandbox check
    assert sr.score(other, s, policy="execute", sandbox=sandbox).reward == 1.0
    assert sr.score(s.answer_text(["assert f(2, 2) == 13"]), s, sandbox=sandbox).reward == 0.0
    sneaky = s.answer_text(["assert f(__import__('os').getpid(), 0) == 13"])
    assert sr.score(sneaky, s, policy="execute", sandbox=sandbox).verdicts[0].status == \
        "unparseable"


def test_execute_policy_accepts_expressions_like_cruxeval(sample: sr.Sample,
                                                          sandbox: sr.Sandbox) -> None:
    expr = sample.answer_text(answers(sample, {0: "assert f([3, 4, 6, 9], 3) == [3] + []"}))
    assert sr.score(expr, sample, policy="execute", sandbox=sandbox).reward == 1.0
    assert sr.score(expr, sample).verdicts[0].status == "unparseable"  # literal policy


def test_misuse_raises_clearly(sample: sr.Sample) -> None:
    with pytest.raises(ValueError, match="unknown reward preset"):
        sr.score("x", sample, preset="bogus")
    with pytest.raises(ValueError, match="policy"):
        sr.score("x", sample, policy="fast")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sample must be"):
        sr.score("x", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="completions"):
        sr.score_many(["a"], [])


def test_non_text_completions_score_zero_with_a_reason(sample: sr.Sample) -> None:
    for bad in (None, 3, b"<answer>x</answer>", [{"role": "assistant"}], {}):
        sc = sr.score(bad, sample)
        assert sc.reward == 0.0 and "not text" in (sc.parse_error or "")
        assert len(sc.verdicts) == len(sample.questions)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noise=st.text(max_size=300), pos=st.integers(0, 2000),
       cut=st.integers(0, 2000))
def test_fuzz_never_raises_and_is_fast(sample: sr.Sample, noise: str, pos: int,
                                       cut: int) -> None:
    gold = sample.gold_completion()
    mutated = gold[:pos] + noise + gold[pos:][: max(0, cut)]
    for text in (noise, mutated, "<answer>\n" + noise + "\n</answer>"):
        t0 = time.perf_counter()
        sc = sr.score(text, sample)
        assert time.perf_counter() - t0 < 1.0
        assert 0.0 <= sc.reward <= 1.0
        assert len(sc.verdicts) == len(sample.questions)


def test_garbage_megabytes_nul_and_surrogates(sample: sr.Sample) -> None:
    gold_lines = sample.gold_answers()
    cases = [
        "x" * 5_000_000,
        "<answer>" + "\x00" * 100_000 + "</answer>",
        "<answer>\n" + "\ud800\udfff" * 1000 + "\n</answer>",
        "<answer>\n" + "[" * 100_000 + "\n</answer>",
        "<answer>\n" + "1" * 200_000 + "; int\n</answer>",
        "<answer>\n" + "\n".join(["(" * 500 + ")" * 500] * 50) + "\n</answer>",
        "<answer>\n" + "\n".join(gold_lines) + "\n" + "junk\n" * 100_000 + "</answer>",
    ]
    for text in cases:
        t0 = time.perf_counter()
        sc = sr.score(text, sample)
        assert time.perf_counter() - t0 < 3.0
        assert sc.reward in (0.0, 1.0) or 0 <= sc.reward <= 1


# ------------------------------------------------------------------ the execute policy's gate

# Output programs of different shapes; the same rebinding answers are tried on each.
GATE_PROGRAMS = [
    ("def f(a, b):\n    return a * b + 1\n", "f(3, 4)"),
    ("def f(s):\n    return s[::-1].upper()\n", "f('abc')"),
    ("def f(xs):\n    return sorted(set(xs))\n", "f([3, 1, 3])"),
    ("def f(d):\n    return {v: k for k, v in d.items()}\n", "f({'a': 1})"),
]
# {a} is the call's argument text. Before the RestrictedPython gate the first one scored 1.0 on
# every output question (a comprehension rebinding f hid the real f from the name check).
REBINDING = [
    "[g({a}) for g in [f] for f in [0]][0]",
    "[g for g in [0] for f in [0]] or f({a})",
    "(lambda f: f({a}))(f)",
    "(lambda g=f: g({a}))()",
    "[(f := g) for g in [0]] and f({a})",
    "[i('os').getpid() for i in [__import__] for __import__ in [0]][0]",
    "[len for len in [f]][0]({a})",
    "{a!r}.__class__",
    "(x for x in [0]).gi_frame.f_globals['f']({a})",  # also 1.0 before: no name, no '_'
]


@pytest.mark.parametrize("template", REBINDING)
def test_rebinding_answers_never_pass_the_execute_gate(sandbox: sr.Sandbox,
                                                       template: str) -> None:
    for source, call in GATE_PROGRAMS:
        s = sr.build_sample(source, call, kinds=("output",), sandbox=sandbox)
        args = call[2:-1]
        answer = f"assert {call} == " + template.replace("{a!r}", repr(args)).replace(
            "{a}", args)
        sc = sr.score(s.answer_text([answer]), s, policy="execute", sandbox=sandbox)
        assert sc.reward == 0.0, (answer, sc.verdicts[0])
        assert sc.verdicts[0].status == "unparseable", (answer, sc.verdicts[0])


def test_the_gate_resolves_names_like_python() -> None:
    import ast

    from stepreward.questions._gate import check_expression

    def gate(text: str, *, call: bool = False) -> str | None:
        return check_expression(ast.parse(text, mode="eval").body, "f", call_of_entry=call)

    # Legitimate: comprehension and lambda variables, builtins, methods, nested scopes.
    for ok in ("[x * 2 for x in range(3)]", "sorted([3, 1], key=lambda v: -v)",
               "{k: v for k, v in zip('ab', [1, 2])}", "[[y for y in x] for x in [[1]]]",
               "'a b'.split()", "(lambda x, *r, k=2, **kw: x)(1)"):
        assert gate(ok) is None, ok
    assert gate("f([1, 2], lambda x: x.sort())", call=True) is None
    # A comprehension variable is not visible in the first iterable (enclosing scope).
    assert gate("[x for x in x]") == "the name 'x' is not allowed in an answer"
    # Lambda defaults are evaluated outside the lambda.
    assert "not allowed" in (gate("(lambda y=y: y)()") or "")
    # RestrictedPython's restricted expression policy is a second, independent layer.
    from stepreward.questions._gate import _restricted_errors

    for bad in ("__import__('os')", "(1).__class__", "[1 for _x in []]", "x = 1",
                "(x for x in []).gi_frame.f_globals"):
        assert "RestrictedPython refused" in (_restricted_errors(bad) or ""), bad
    # ... and our own check refuses frame and code attributes without relying on it.
    from stepreward.questions._gate import INTROSPECTION_ATTRIBUTES, _Scopes

    for attr in sorted(INTROSPECTION_ATTRIBUTES):
        scopes = _Scopes("f")
        scopes.visit(ast.parse(f"(x for x in []).{attr}", mode="eval").body, frozenset())
        assert scopes.error == f"the attribute {attr!r} is not allowed in an answer"
    assert _restricted_errors("sorted([2, 1], key=lambda v: v)") is None
    assert gate("f(1)") == "the answer uses the function under test 'f'"
    assert gate("g(1)", call=True) == "expected a call of f(...)"
    assert gate("f(f(1))", call=True) == "the answer uses the function under test 'f'"
    assert gate("f(*[1], **{'k': 2})", call=True) is None


LAMBDA_PROGRAM = ("def f(xs, op):\n    if callable(op):\n        op(xs)\n    else:\n"
                  "        xs.append(op)\n    return xs\n")


@pytest.mark.parametrize("policy", ["literal", "execute"])
@pytest.mark.parametrize(("args", "status"), [
    ("[2, 1], 3", "correct"),                          # the original arguments
    ("[3, 1, 2], lambda x: x.reverse()", "correct"),   # CRUXEval-I accepts callables
    ("[2, 1, 3], lambda x: None", "correct"),
    ("[1, 2], lambda x: x.sort()", "wrong"),
    ("[1], lambda x: __import__('os')", "unparseable"),
    ("[1], lambda x: x.__class__", "unparseable"),
    ("[1], lambda f: f", "unparseable"),
    ("[1], lambda x: open('/etc/passwd')", "unparseable"),
])
def test_lambda_arguments_in_input_answers(sandbox: sr.Sandbox, policy: str, args: str,
                                           status: str) -> None:
    s = sr.build_sample(LAMBDA_PROGRAM, "f([2, 1], 3)", kinds=("input",), sandbox=sandbox)
    sc = sr.score(s.answer_text([f"assert f({args}) == [2, 1, 3]"]), s,
                  policy=policy, sandbox=sandbox)  # type: ignore[arg-type]
    assert sc.verdicts[0].status == status, sc.verdicts[0]


# ------------------------------------------------------------------ adversarial lines (linear)

# Lines crafted against backtracking regular expressions (see bench/test_bench_adversarial.py
# for 320 KB - 4 MB). A backtracking pattern of these shapes takes 132 s for a type name on an
# 8 KB line (cubic), 2 s for the numbering on a 20 KB line and 2.6 s for code-fence extraction
# on 80 KB (quadratic); the parsers here are linear.
ADVERSARIAL = {
    "type name": lambda n: "1; <class" + " " * n + "x",
    "numbering": lambda n: "a" + " " * n + "x",
    "numbering with #": lambda n: "answer" + " " * (n // 2) + "#" + " " * (n // 2) + "x",
    "fence": lambda n: "```" + " " * n + "x",
    "fences never closed": lambda n: "```python\nx" * (n // 11),
    "brackets never closed": lambda n: "assert f(1) == " + "[" * n,
    "string never closed": lambda n: "assert f(1) == '''" + "x'" * (n // 2),
    "line number prefix": lambda n: "1" + " " * n + "|",
    "line number, spaces to the end": lambda n: "1" + " " * n,
    "escaped strings, bracket open": lambda n: "assert f(1) == [" + "'\\'', " * (n // 6),
}


def _best_time(fn: object, repeat: int = 3) -> float:
    # CPU time of this thread: other processes on a busy machine do not inflate it, so the
    # ratio reflects the parser's growth, not the load.
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()  # type: ignore[operator]
        best = min(best, time.thread_time() - t0)
    return max(best, 1e-3)  # below that, timer noise dominates the ratio


@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
def test_parsers_are_linear_on_adversarial_lines(sample: sr.Sample, case: str) -> None:
    from stepreward.codegen import extract_code
    from stepreward.questions.kinds.next_statement import _LINE_PREFIX
    from stepreward.scoring._reference import _first_python_block
    from stepreward.values import normalize_type_name

    make = ADVERSARIAL[case]
    k = len(sample.questions)

    def completion(n: int) -> str:
        return "<answer>\n" + "\n".join([make(n // k)] * k) + "\n</answer>"

    # Whole completions through score() and the extractors, the bare line through the
    # line-level parsers (the type name is what follows the last ';').
    inputs = [(completion, lambda t: sr.score(t, sample)), (completion, extract_code),
              (completion, _first_python_block),
              (make, lambda t: normalize_type_name(t.rpartition(";")[2])),
              (make, _LINE_PREFIX.match), (make, split_answers)]
    for build, fn in inputs:
        small, big = build(40_000), build(640_000)  # 16x the input
        ratio = _best_time(lambda: fn(big)) / _best_time(lambda: fn(small))  # noqa: B023
        # Linear is ~16x; quadratic would be ~256x and cubic ~4096x.
        assert ratio < 64, (case, fn, ratio)


def test_worst_case_time_per_completion(sample: sr.Sample) -> None:
    tests = [sr.TestCase.call("f", ([1],), [1])]
    for make in ADVERSARIAL.values():
        # One 4 MB line, and 200 lines of 19 KB (each under the 20 KB line cap, where the
        # quadratic numbering pattern took 2 s a line).
        for text in ("<answer>\n" + make(3_990_000) + "\n</answer>",
                     "<answer>\n" + "\n".join([make(19_000)] * 200) + "\n</answer>"):
            t0 = time.thread_time()  # CPU time, immune to the machine's load
            sr.score(text, sample)
            sr.code_reward(text, tests)  # no code block: never reaches the sandbox
            assert time.thread_time() - t0 < 5.0  # documented: well under 1 s


def test_score_accepts_a_trace(sandbox: sr.Sandbox) -> None:
    from stepreward.questions import sample_from_trace

    t = sr.trace(PAPER, CALL, sandbox=sandbox)
    s = sample_from_trace(t)  # the prompt a custom loop shows for this trace
    gold = s.gold_completion()
    assert sr.score(gold, t).reward == 1.0
    assert sr.score(gold, t).verdicts == sr.score(gold, s).verdicts
    wrong = s.answer_text(["nope"] * len(s.questions))
    assert sr.score(wrong, t).reward == 0.0
    assert [sc.reward for sc in sr.score_many([gold, wrong], [t, t])] == [1.0, 0.0]
    # A trace that never ran cannot be graded: a clear ValueError, not an AttributeError.
    broken = sr.Trace(source="def f(:", call="f()", status="error", reason="SyntaxError")
    with pytest.raises(ValueError, match="status 'error'"):
        sr.score(gold, broken)


# ------------------------------------------------------------------ real-world answer shapes

SHAPE_PROGRAMS = {
    "pairs": ("def f(xs):\n    return [[x, x % 2 == 1] for x in sorted(xs, reverse=True)]\n",
              "f([2, 3])", ("output",)),  # [[3, True], [2, False]]
    "dict": ("def f(s):\n    return {i + 1: c for i, c in enumerate(s)}\n", "f('ab')",
             ("output",)),  # {1: 'a', 2: 'b'}
    "text": ("def f(a, b):\n    return a + '\\n' + b\n", "f('a', 'b')", ("output",)),
    "lambda": (LAMBDA_PROGRAM, "f([2, 1], 3)", ("input",)),  # [2, 1, 3]
    "mul": ("def f(a, b):\n    return a * b + 1\n", "f(3, 4)", ("input",)),  # 13
}
# (name, program, answer block, expected status, policy)
SHAPES = [
    ("pretty-printed value", "pairs", "[\n    [3, True],\n    [2, False]\n]", "correct",
     "literal"),
    ("assert continued over lines", "pairs",
     "assert f([2, 3]) == [\n    [3, True],\n    [2, False],\n]", "correct", "literal"),
    ("call spread over lines", "pairs", "assert f(\n    [2, 3]\n) == [[3, True], [2, False]]",
     "correct", "literal"),
    ("fenced and numbered", "pairs",
     "```python\n1. assert f([2, 3]) == [\n  [3, True],\n  [2, False]]\n```", "correct",
     "literal"),
    ("backslash continuation", "pairs", "assert f([2, 3]) == \\\n    [[3, True], [2, False]]",
     "correct", "literal"),
    ("trailing comment line", "pairs",
     "assert f([2, 3]) == [[3, True],\n                     [2, False]]\n# sorted descending",
     "correct", "literal"),
    ("pretty-printed and wrong", "pairs", "[\n    [3, True],\n    [2, True]\n]", "wrong",
     "literal"),
    ("never closed", "pairs", "[\n    [3, True],\n    [2, False]", "unparseable", "literal"),
    ("dict with number keys", "dict", "{\n    1: 'a',\n    2: 'b',\n}", "correct", "literal"),
    ("dict with number keys, execute", "dict", "assert f('ab') == {\n    1: 'a',\n    2: 'b'\n}",
     "correct", "execute"),
    ("triple-quoted string", "text", "assert f('a', 'b') == '''a\nb'''", "correct", "literal"),
    ("pretty-printed, execute", "pairs", "[\n    [3, True],\n    [2, False]\n]", "correct",
     "execute"),
    ("lambda input", "lambda", "assert f([3, 1, 2], lambda x: x.reverse()) == [2, 1, 3]",
     "correct", "execute"),
    ("lambda input, literal policy", "lambda",
     "assert f([3, 1, 2], lambda x: x.reverse()) == [2, 1, 3]", "correct", "literal"),
    ("lambda input over lines", "lambda",
     "assert f(\n    [3, 1, 2],\n    lambda x: x.reverse(),\n) == [2, 1, 3]", "correct",
     "execute"),
    ("lambda input, wrong", "lambda", "assert f([1, 2], lambda x: x.sort()) == [2, 1, 3]",
     "wrong", "execute"),
    ("alternative input, no sandbox given", "mul", "assert f(1, 12) == 13", "correct",
     "literal"),
    ("alternative input over lines", "mul", "assert f(\n    1,\n    12,\n) == 13", "correct",
     "literal"),
    ("alternative input, wrong", "mul", "assert f(2, 2) == 13", "wrong", "literal"),
]


@pytest.fixture(scope="module")
def shape_samples(sandbox: sr.Sandbox) -> dict[str, sr.Sample]:
    return {k: sr.build_sample(src, call, kinds=kinds, sandbox=sandbox)
            for k, (src, call, kinds) in SHAPE_PROGRAMS.items()}


@pytest.mark.parametrize(("name", "program", "block", "status", "policy"), SHAPES,
                         ids=[s[0] for s in SHAPES])
def test_real_world_answer_shapes(shape_samples: dict[str, sr.Sample], sandbox: sr.Sandbox,
                                  name: str, program: str, block: str, status: str,
                                  policy: str) -> None:
    s = shape_samples[program]
    sb = sandbox if policy == "execute" else None  # literal: the default sandbox if needed
    sc = sr.score(f"Reasoning...\n<answer>\n{block}\n</answer>", s,
                  policy=policy, sandbox=sb)  # type: ignore[arg-type]
    assert sc.verdicts[0].status == status, (name, sc.verdicts[0])
    if status == "correct":
        assert sc.reward == 1.0 and sc.components["format"] == 1.0


LOOP = "def f(xs):\n    out = {}\n    for x in xs:\n        out[x] = [x, x * 2]\n    return out\n"


def _pretty(answer: str, q: sr.Question) -> str:
    """The answer as a model that pretty-prints values writes it (over several lines)."""
    import pprint

    from stepreward.values import from_literal

    if q.kind == "output":
        head = answer[:answer.index(" == ") + 4]
        return head + pprint.pformat(from_literal(q.gold), width=8)
    if q.kind == "state":
        return pprint.pformat(from_literal(q.gold["value"]), width=8) + "; " + q.gold["type"]
    return answer


def test_multi_line_answers_with_several_questions(sandbox: sr.Sandbox) -> None:
    s = sr.build_sample(LOOP, "f([1, 2])", kinds=("output", "next_statement", "state"),
                        max_per_kind=4, seed=0, sandbox=sandbox)
    pretty = [_pretty(a, q) for a, q in zip(s.gold_answers(), s.questions, strict=True)]
    assert any("\n" in p for p in pretty)  # the sample does exercise multi-line answers
    block = "<answer>\n" + "\n".join(pretty) + "\n</answer>"
    sc = sr.score(block, s)
    assert sc.reward == 1.0 and sc.components["format"] == 1.0, sc.verdicts
    # Numbered, each answer spread over lines: aligned by number.
    numbered = "<answer>\n" + "\n".join(f"{i}. {p}" for i, p in enumerate(pretty, 1)) + \
        "\n</answer>"
    assert sr.score(numbered, s).reward == 1.0


def test_a_continuation_never_swallows_the_next_answer(sandbox: sr.Sandbox) -> None:
    s = sr.build_sample(LOOP, "f([1, 2])", kinds=("output", "next_statement", "state"),
                        max_per_kind=4, seed=0, sandbox=sandbox)
    gold = s.gold_answers()
    # An unclosed output answer: the rest of the block still answers the other questions.
    for broken in ("assert f([1, 2]) == {1: [1, 2],", "assert f([1, 2]) == '''{1: [1, 2]}",
                   "assert f([1, 2]) == \\"):
        sc = sr.score(s.answer_text([broken, *gold[1:]]), s)
        assert not sc.verdicts[0].correct
        assert all(v.correct for v in sc.verdicts[1:]), (broken, sc.verdicts)
    # Gold answers that open a bracket themselves: the first line of a multi-line statement
    # (next_statement), and unquoted one-character strings (state).
    q = [sr.Question(kind="next_statement", text="?", line=1, occurrence=1, gold="xs = [",
                     gold_text="xs = [", info={"next_line": 2}),
         sr.Question(kind="state", text="?", line=1, occurrence=1, var="a",
                     gold={"value": "(", "type": "str"}, gold_text="'('; str"),
         sr.Question(kind="state", text="?", line=1, occurrence=1, var="b",
                     gold={"value": ")", "type": "str"}, gold_text="')'; str")]
    hand = sr.Sample(id="x", source="", call="f()", prompt="", questions=q)
    # "(; str" + "); str" closes the parenthesis, but the joined text is not a value: kept apart.
    for block in ("xs = [\n(; str\n); str", "xs = [\n'('; str\n')'; str"):
        sc = sr.score(f"<answer>\n{block}\n</answer>", hand)
        assert [v.status for v in sc.verdicts] == ["correct"] * 3, (block, sc.verdicts)


def test_the_row_cache_is_keyed_on_the_whole_row() -> None:
    """Two rows with the same id and questions but another program are two samples: one
    client of a shared server cannot change another's rewards by sending its row first."""
    good = sr.build_sample("def f(x):\n    return x + 1\n", "f(2)", kinds=("input",)).to_row()
    evil = {**good, "source": "def f(x):\n    return 3\n"}
    answer = "<answer>\nassert f(5) == 3\n</answer>"
    assert sr.score(answer, evil).reward == 1.0  # right for the constant program
    assert sr.score(answer, good).reward == 0.0
    assert sr.score(answer, json.dumps(evil)).reward == 1.0
    assert sr.score(answer, json.dumps(good)).reward == 0.0


def test_the_row_cache_is_bounded_in_bytes() -> None:
    """96 distinct rows of 1 MiB leave at most the row cache's 64 MiB in the process."""
    import gc
    import tracemalloc

    base = sr.build_sample("def f(x):\n    return x + 1\n", "f(2)", kinds=("output",)).to_row()
    pad = "#" * (1 << 20)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(96):  # 96 distinct rows of 1 MiB each
            row = {**base, "id": f"row-{i}",
                   "source": f"{pad}\n# {i}\ndef f(x):\n    return x + 1\n"}
            assert sr.score("", row).reward == 0.0
            del row
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= 72 << 20, held / 2**20


HOSTILE_ANSWERS = {
    "a 5,000-digit answer number": "1" * 5000 + ": 5",
    "a 200,000-character unary chain": "assert f(1, 2) == " + "-" * 200_000 + "1",
    "a long attribute chain": "assert f(1, 2) == x" + ".a" * 100_000,
    "a 1,500-term sum": "assert f(1, 2) == " + " + ".join(["1"] * 1500),
    "a 1,500-term sum as an argument": "assert f(" + " + ".join(["1"] * 1500) + ", 2) == 6",
    "a superscript digit as a line number": "²",
}


@pytest.mark.parametrize("kinds", [("output", "next_statement", "state"), ("input",)])
def test_score_never_raises_on_hostile_answers(kinds: tuple[str, ...]) -> None:
    s = sr.build_sample("def f(a, b):\n    c = a + b\n    d = c * 2\n    return d\n",
                        "f(1, 2)", kinds=kinds)
    for name, answer in HOSTILE_ANSWERS.items():
        for policy in ("literal", "execute"):
            sc = sr.score(f"<answer>\n{answer}\n</answer>", s, policy=policy)
            assert sc.reward == 0.0, (name, policy, sc.verdicts)


def test_input_answers_equal_under_eq_but_of_another_type_are_run() -> None:
    """``True`` and ``1.0`` equal ``1`` under ``==``; a program that looks at the type tells
    them apart, so only the very same values skip the sandbox call."""
    s = sr.build_sample("def f(x):\n    return type(x).__name__ + str(x)\n", "f(1)",
                        kinds=("input",))
    for policy in ("literal", "execute"):
        for answer, reward in (("f(1)", 1.0), ("f(x=1)", 1.0), ("f(True)", 0.0),
                               ("f(1.0)", 0.0)):
            sc = sr.score(s.answer_text([f"assert {answer} == 'int1'"]), s, policy=policy)
            assert sc.reward == reward, (answer, policy, sc.verdicts)
    # Equal values of the same types, nested, written another way: no call needed.
    s = sr.build_sample("def g(d):\n    return sorted(d)\n", "g({'a': (1, 2.5)})",
                        kinds=("input",))
    sc = sr.score(s.answer_text(["assert g(dict(a=(1, 2.5))) == ['a']"]), s)
    assert sc.reward == 1.0, sc.verdicts


def test_narrow_float_answers_are_compared_at_the_gold_values_precision() -> None:
    """``np.float16(3.143)`` rounds to the same float16 as 22/7, but the call returns a float:
    the comparison happens at the gold value's precision, not the answer's."""
    s = sr.build_sample("def f():\n    return 22 / 7\n", "f()", kinds=("output",))
    for answer, reward in (("3.142857142857143", 1.0), ("np.float16(3.143)", 0.0),
                           ("np.float32(3.142857142857143)", 0.0)):
        sc = sr.score(s.answer_text([f"assert f() == {answer}"]), s)
        assert sc.reward == reward, (answer, sc.verdicts)
    # A float32 gold still accepts the plain float that rounds to it.
    lit = {"np_scalar": ["float32", 0.10000000149011612]}
    q = sr.Question(kind="output", gold=lit, gold_text="assert f() == np.float32(0.1)",
                    text="?", info={"call": "f()"})
    s32 = sr.Sample(id="f32", source="", call="f()", prompt="", questions=[q])
    assert sr.score("<answer>\nassert f() == 0.1\n</answer>", s32).reward == 1.0
    assert sr.score("<answer>\nassert f() == np.float16(0.1)\n</answer>", s32).reward == 0.0


# ------------------------------------------------------------------------ lenient extraction
@pytest.mark.parametrize(("text", "strict", "lenient"), [
    ("<answer>\n3\n</answer>", 1.0, 1.0),
    ("so the call returns\n<answer>\n3", 0.0, 1.0),      # never closed
    ("```python\n3\n```", 0.0, 1.0),                     # only a fence
    ("```\n3\n```\nor maybe\n```\n4\n```", 0.0, 0.0),    # the last fence counts, only it
    ("<answer>\n4\n</answer>\n```\n3\n```", 0.0, 0.0),   # a closed block always wins
    ("it returns 3", 0.0, 0.0),                          # prose is never read
])
def test_lenient_extraction_reads_one_region_only(text: str, strict: float,
                                                  lenient: float) -> None:
    s = sr.build_sample("def f(a, b):\n    return a + b\n", "f(1, 2)", kinds=("output",),
                        max_per_kind=1, seed=0)
    assert sr.score(text, s).reward == strict
    sc = sr.score(text, s, extraction="lenient")
    assert sc.reward == lenient
    if lenient and strict == 0.0:
        assert sc.components["format"] == 0.0  # a lenient read earns no format credit
    with pytest.raises(ValueError, match="extraction must be"):
        sr.score(text, s, extraction="loose")  # type: ignore[arg-type]


def test_lenient_extraction_opens_no_hack() -> None:
    s = sr.build_sample("def f(nums, k):\n    return [x for x in nums if x % k == 0]\n",
                        "f([3, 4, 6, 9], 3)", kinds=("output",), max_per_kind=1, seed=0)
    for name, hack in HACKS.items():
        for text in (f"<answer>\n{hack}", f"```python\n{hack}\n```", f"{hack}\n<answer>"):
            sc = sr.score(text, s, extraction="lenient")
            assert sc.reward == 0.0, (name, text)
