"""numpy values end to end: literals, traces, questions, scores and run_tests.

The sandbox parts need numpy installed (it is, with the trl extra); the trainer side is also
checked in a process where numpy cannot be imported at all.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stepreward as sr
from stepreward.codegen import tests_from_assertions
from stepreward.questions import get_kind, sample_from_trace
from stepreward.values import (
    NOT_LITERAL,
    NumpyArray,
    NumpyScalar,
    from_literal,
    normalize_type_name,
    parse_value,
    realize_numpy,
    render_literal,
    to_literal,
    values_equal,
)

np = pytest.importorskip("numpy")
hnp = pytest.importorskip("hypothesis.extra.numpy")

SRC = Path(__file__).resolve().parents[2] / "src"

PROGRAM = textwrap.dedent("""\
    import numpy as np

    def f(n):
        a = np.arange(n)
        total = a.sum()
        b = a * 2.5
        mask = b > 2
        small = np.float32(0.1) * 3
        return b
    """)


@pytest.fixture(scope="module")
def npbox() -> Iterator[sr.Sandbox]:
    with sr.Sandbox(workers=2, preload=["numpy"]) as sb:
        yield sb


# ---------------------------------------------------------------------------------- values

REAL_VALUES = [
    np.int64(3), np.int8(-128), np.uint64(2**64 - 1), np.float32(0.1), np.float16(0.5),
    np.float64("nan"), np.bool_(True), np.complex64(1 + 2j), np.str_("ab"),
    np.array([1, 2]), np.array([[1.5, np.nan], [np.inf, -0.0]], dtype=np.float32),
    np.array(["a", "bc"]), np.array(5), np.zeros((0, 3), dtype=np.int32), np.zeros((2, 0)),
    np.array([True, False]), np.array([1 + 2j]), np.arange(6, dtype=np.uint8).reshape(2, 3),
    [np.int64(1), {np.int8(2): np.array([1.0])}], (np.float64(2.5), np.array([], dtype=float)),
]


@pytest.mark.parametrize("value", REAL_VALUES, ids=lambda v: repr(v)[:40])
def test_real_numpy_values_round_trip(value: object) -> None:
    lit = to_literal(value)
    assert lit is not NOT_LITERAL
    decoded = from_literal(lit)
    # The rendered form is what gold answers show: it parses back to the same literal, and
    # realize_numpy rebuilds the very value numpy had.
    text = render_literal(lit)
    assert to_literal(parse_value(text)) == lit, text
    assert values_equal(decoded, parse_value(text))
    real = realize_numpy(decoded)
    assert to_literal(real) == lit
    np.testing.assert_equal(real, value)


def test_literal_forms_record_dtype_shape_and_data() -> None:
    assert to_literal(np.array([[1, 2], [3, 4]], dtype=np.int32)) == {
        "ndarray": ["int32", [2, 2], [[1, 2], [3, 4]]]}
    assert to_literal(np.float32(0.5)) == {"np_scalar": ["float32", 0.5]}
    assert to_literal(np.array([np.nan])) == {"ndarray": ["float64", [1], [{"float": "nan"}]]}
    assert render_literal(to_literal(np.array([0.1], dtype=np.float32))) == \
        "np.array([0.1], dtype=np.float32)"
    assert render_literal(to_literal(np.zeros((0, 2), dtype=np.int64))) == \
        "np.empty((0, 2), dtype=np.int64)"


def test_values_without_a_literal_form() -> None:
    class Sub(np.ndarray):  # a subclass may override anything: never encoded
        pass

    for value in (np.array([object()]), np.datetime64("2020-01-01"),
                  np.array([1], dtype=np.float128), np.arange(3).view(Sub),
                  np.ma.masked_array([1, 2], mask=[0, 1]), np.array([(1, 2.0)], dtype="i4,f8")):
        assert to_literal(value) is NOT_LITERAL, value
    # A class posing as numpy's: its __module__ is a str subclass, never compared by its
    # own methods.
    calls = []

    class Sneaky(str):
        def __ne__(self, other: object) -> bool:
            calls.append(other)
            return False

    pose = type("ndarray", (), {"__module__": Sneaky("numpy")})
    assert to_literal(pose()) is NOT_LITERAL and calls == []
    # Large arrays follow the item limit of every other container.
    assert to_literal(np.arange(1000), max_items=1000) is not NOT_LITERAL
    assert to_literal(np.arange(1001), max_items=1000) is NOT_LITERAL
    assert to_literal([np.arange(600), np.arange(600)], max_items=1000) is NOT_LITERAL


def test_numpy_type_names_and_aliases() -> None:
    assert sr.values.type_name(np.array([1])) == "numpy.ndarray"
    assert sr.values.type_name(np.int64(1)) == "numpy.int64"
    for text in ("numpy.ndarray", "np.ndarray", "ndarray", "<class 'numpy.ndarray'>",
                 "`np.ndarray`"):
        assert normalize_type_name(text) == "numpy.ndarray", text
    for text in ("numpy.int64", "np.int64", "int64", "<class 'numpy.int64'>"):
        assert normalize_type_name(text) == "numpy.int64", text
    gold = normalize_type_name(sr.values.type_name(np.bool_(True)))  # numpy.bool on numpy 2
    assert {normalize_type_name(t) for t in ("np.bool_", "numpy.bool", "bool_")} == {gold}
    assert normalize_type_name("float") == "float"  # a builtin, not numpy.float64
    assert normalize_type_name("int") == "int"


def test_stand_ins_behave_like_values() -> None:
    a = parse_value("np.array([[1, 2], [3, 4]])")
    assert isinstance(a, NumpyArray) and a.shape == (2, 2) and a.dtype == "int64"
    assert a.flat() == [1, 2, 3, 4] and a.tolist() == [[1, 2], [3, 4]]
    assert a == parse_value("array([[1, 2], [3, 4]], dtype=int32)")
    assert a != [[1, 2], [3, 4]]
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(AttributeError):
        a.dtype = "float64"  # type: ignore[misc]
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a)
    s = parse_value("np.int64(3)")
    assert s == 3 and hash(s) == hash(3) and {s: 1}[3] == 1
    with pytest.raises(ValueError, match="malformed literal"):
        from_literal({"ndarray": ["int64", [3], [1, 2]]})
    with pytest.raises(ValueError, match="malformed literal"):
        from_literal({"ndarray": ["int8", [1], [1000]]})
    with pytest.raises(ValueError, match="malformed literal"):
        from_literal({"np_scalar": ["object", 1]})


def test_the_trainer_side_works_without_numpy() -> None:
    """numpy blocked from import: the literals decode, compare, render, parse and grade."""
    script = textwrap.dedent("""
        import sys
        sys.modules["numpy"] = None  # any import of numpy now raises ImportError
        import stepreward as sr
        from stepreward.questions import get_kind
        from stepreward.values import from_literal, parse_value, render_literal, values_equal
        lit = {"ndarray": ["float32", [2], [0.10000000149011612, 2.0]]}
        value = from_literal(lit)
        assert render_literal(lit) == "np.array([0.1, 2.0], dtype=np.float32)"
        assert values_equal(value, parse_value("array([0.1, 2. ], dtype=float32)"))
        q = sr.Question(kind="state", text="?", line=1, occurrence=1, var="v",
                        gold={"value": lit, "type": "numpy.ndarray"}, gold_text="")
        assert get_kind("state").grade("[0.1, 2.0]; np.ndarray", q).correct
        assert not get_kind("state").grade("[0.1, 2.0]; list", q).correct
        try:
            value.to_numpy()
        except ImportError:
            pass
        else:
            raise AssertionError("numpy was imported")
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_trainer_modules_do_not_import_numpy() -> None:
    script = ("import sys\nimport stepreward, stepreward.values, stepreward.scoring, "
              "stepreward.questions, stepreward.codegen, stepreward.trace\n"
              "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------------------------- sandbox


def test_numpy_needs_preload_and_works_with_it(sandbox: sr.Sandbox, npbox: sr.Sandbox) -> None:
    plain = sr.trace(PROGRAM, "f(3)", sandbox=sandbox)
    assert plain.status == "error"
    assert plain.exception is not None and plain.exception.type == "ModuleNotFoundError"
    assert "preload" not in sandbox.info["preload_errors"]
    assert npbox.info["preload_errors"] == {}
    # Under every confinement layer (uid, Landlock, seccomp where the host has them) numpy
    # runs, BLAS included, with the task's process limit of one.
    # Submodules numpy loads lazily (random, fft, polynomial) import inside the task too.
    code = textwrap.dedent("""\
        import numpy as np
        a = np.ones((300, 300))
        print(int((a @ a)[0, 0]))
        rng = np.random.default_rng(0)
        m = rng.random((4, 4)) + np.eye(4) * 4
        print(bool(np.allclose(m @ np.linalg.solve(m, np.ones(4)), 1)))
        print(np.fft.fft(np.ones(4)).real.tolist())
        import numpy.polynomial
        """)
    r = npbox.run(code, limits=sr.Limits(max_processes=1))
    assert r.ok and r.stdout == "300\nTrue\n[4.0, 0.0, 0.0, 0.0]\n", (r.status, r.reason,
                                                                      r.stderr[-500:])


def test_trace_records_numpy_values(npbox: sr.Sandbox) -> None:
    t = sr.trace(PROGRAM, "f(3)", sandbox=npbox)
    assert t.status == "ok", t.exception
    assert t.result is not None and t.result.type_name == "numpy.ndarray"
    assert t.result.askable
    assert t.result.literal == {"ndarray": ["float64", [3], [0.0, 2.5, 5.0]]}
    last = t.steps[-1].state_after
    assert last["total"].literal == {"np_scalar": ["int64", 3]}
    assert last["total"].type_name == "numpy.int64"
    assert last["mask"].to_python() == NumpyArray("bool", [3], [False, True, True])
    assert last["small"].to_python() == NumpyScalar("float32", 0.30000001192092896)
    # A large array is a value like a large list: its repr is capped, no literal, no question.
    big = sr.trace("import numpy as np\ndef g():\n    x = np.arange(5000)\n    return x",
                   "g()", sandbox=npbox)
    assert big.status == "ok" and big.result is not None
    assert not big.result.is_literal and not big.result.askable
    assert "..." in big.result.repr and len(big.result.repr) <= 200


def test_round_trip_trace_questions_scores(npbox: sr.Sandbox) -> None:
    t = sr.trace(PROGRAM, "f(3)", sandbox=npbox)
    s = sample_from_trace(t, ("output", "state"), max_per_kind=10)
    golds = {(q.kind, q.var): q.gold_text for q in s.questions}
    assert golds[("output", None)] == "assert f(3) == np.array([0.0, 2.5, 5.0])"
    assert golds[("state", "total")] == "np.int64(3); numpy.int64"
    assert golds[("state", "mask")] == "np.array([False, True, True]); numpy.ndarray"
    assert golds[("state", "small")] == "np.float32(0.3); numpy.float32"
    assert sr.score(s.gold_completion(), s).reward == 1.0
    assert sr.score(s.gold_completion(), s, policy="execute", sandbox=npbox).reward == 1.0

    index = {(q.kind, q.var): i for i, q in enumerate(s.questions)}

    def graded(kind: str, var: str | None, answer: str) -> sr.Verdict:
        answers = s.gold_answers()
        answers[index[(kind, var)]] = answer
        return sr.score(s.answer_text(answers), s).verdicts[index[(kind, var)]]

    # Other spellings a model writes are accepted...
    for answer in ("assert f(3) == array([0. , 2.5, 5. ])", "np.array([0, 2.5, 5])",
                   "assert f(3) == numpy.array([0.0, 2.5, 5.0])"):
        assert graded("output", None, answer).correct, answer
    for answer in ("[0, 1, 2]; numpy.ndarray", "array([0, 1, 2]); ndarray",
                   "np.array([0, 1, 2]); np.ndarray"):
        assert graded("state", "a", answer).correct, answer
    for answer in ("3; numpy.int64", "np.int64(3); int64"):
        assert graded("state", "total", answer).correct, answer
    assert graded("state", "small", "0.3; np.float32").correct
    # ...wrong ones score 0 with a reason.
    wrong = {
        ("output", None, "assert f(3) == [0.0, 2.5, 5.0]"): "numpy.ndarray",
        ("output", None, "assert f(3) == np.array([0.0, 2.5])"): "differs",
        ("output", None, "assert f(3) == np.array([0, 2, 5])"): "differs",
        ("state", "a", "[0, 1, 2]; list"): "wrong value and type",
        ("state", "a", "np.array([0.0, 1.0, 2.0]); numpy.ndarray"): "wrong value",
        ("state", "total", "3; int"): "wrong type",
        ("state", "mask", "[0, 1, 1]; numpy.ndarray"): "wrong value",
    }
    for (kind, var, answer), why in wrong.items():
        v = graded(kind, var, answer)
        assert not v.correct and v.reason is not None and why in v.reason, (answer, v)
    out_only = sample_from_trace(t, ("output",))
    bad = sr.score("<answer>\nassert f(3) == np.array([0.0, 2.5, 6.0])\n</answer>", out_only,
                   policy="execute", sandbox=npbox)
    assert bad.reward == 0.0 and bad.verdicts[0].reason


def test_input_questions_with_numpy_arguments(npbox: sr.Sandbox) -> None:
    src = "import numpy as np\n\ndef g(xs):\n    return int(np.sum(xs > 1))\n"
    s = sr.build_sample(src, "g(np.array([1, 2, 3]))", kinds=("input",), sandbox=npbox)
    (q,) = s.questions
    assert q.gold == "np.array([1, 2, 3])"
    kind = get_kind("input")
    assert kind.grade("assert g(np.array([1, 2, 3])) == 2", q).correct
    # Other arrays run in the sandbox, rendered by the trainer from the parsed values.
    other = kind.grade("assert g(array([5, 7, 0])) == 2", q, source=src, sandbox=npbox)
    assert other.correct, other
    miss = kind.grade("assert g(np.array([5, 0, 0])) == 2", q, source=src, sandbox=npbox)
    assert not miss.correct and miss.reason
    # Arbitrary numpy expressions stay behind the gate.
    gated = kind.grade("assert g(np.arange(3)) == 2", q, source=src, sandbox=npbox)
    assert gated.status == "unparseable" and "np" in (gated.reason or "")
    # The execute policy runs numpy literal arguments the same way.
    for answer, reward in (("assert g(array([5, 7, 0])) == 2", 1.0),
                           ("assert g(np.array([5, 0, 0])) == 2", 0.0),
                           ("assert g(np.arange(3)) == 2", 0.0)):
        sc = sr.score(f"<answer>\n{answer}\n</answer>", s, policy="execute", sandbox=npbox)
        assert sc.reward == reward, (answer, sc.verdicts)


# ---------------------------------------------------------------------------------- run_tests

SOLUTION = textwrap.dedent("""\
    import numpy as np

    def scale(xs, k):
        return np.asarray(xs, dtype=float) * k

    def total(xs):
        return np.sum(xs)

    def ident(n):
        return np.eye(n, dtype=int)

    def mean(xs):
        return np.float32(np.mean(xs))
    """)


def test_run_tests_compares_numpy_results_like_evalplus(npbox: sr.Sandbox) -> None:
    arr = parse_value
    cases = [
        # (test, passes). EvalPlus's comparison where the expected value is numpy; a plain
        # expected value is compared as Python compares it (an array is not a list, and the
        # returned type widens no tolerance: np.float64(0.30000000000000004) is not 0.3).
        (sr.TestCase.call("scale", ([1, 2], 3), arr("np.array([3.0, 6.0])")), True),
        (sr.TestCase.call("scale", ([1, 2], 0.1), arr("np.array([0.1, 0.2])")), True),
        (sr.TestCase.call("scale", ([1, 2], 3), [3.0, 6.0]), False),  # an array for a list
        (sr.TestCase.call("scale", ([1, 2], 3), arr("np.array([3.0, 6.1])")), False),
        (sr.TestCase.call("scale", ([1, 2], 3), arr("np.array([[3.0, 6.0]])")), False),
        (sr.TestCase.call("scale", ([1, 2], 1e-3), arr("np.array([0.0, 0.0])"), atol=1e-2),
         True),
        (sr.TestCase.call("total", (arr("np.array([1, 2])"),), 3), True),  # numpy argument
        (sr.TestCase.call("total", ([0.1, 0.2],), 0.3), False),  # exact: no tolerance asked
        (sr.TestCase.call("total", ([0.1, 0.2],), 0.3, atol=1e-9), True),
        (sr.TestCase.call("total", ([0.1, 0.2],), arr("np.float64(0.3)")), True),
        (sr.TestCase.call("total", ([1, 2],), 4), False),
        (sr.TestCase.call("ident", (2,), [[1, 0], [0, 1]]), False),  # an array for a list
        (sr.TestCase.call("ident", (2,), arr("np.array([[1, 0], [0, 1]])")), True),
        (sr.TestCase.call("ident", (2,), arr("np.array([[1, 0], [0, 2]])")), False),
        (sr.TestCase.call("ident", (2,), arr("np.array([[1, 0, 0], [0, 1, 0]])")), False),
        (sr.TestCase.call("mean", ([0.1, 0.2],), arr("np.float32(0.15)")), True),
        (sr.TestCase.call("mean", ([0.1, 0.2],), 0.15), False),  # float32 is not 0.15
        (sr.TestCase.call("mean", ([0.1, 0.2],), arr("np.float32(0.16)")), False),
        (sr.TestCase.call("total", ([1, 2],), compare="truthy"), True),  # a numpy scalar
        (sr.TestCase.call("total", ([0, 0],), compare="truthy"), False),  # np.int64(0)
        (sr.TestCase.call("total", ([0, 0],), compare="falsy"), True),
        (sr.TestCase.call("ident", (1,), compare="truthy"), True),  # one element
        (sr.TestCase.call("ident", (2,), compare="truthy"), False),  # ambiguous, as in numpy
    ]
    report = sr.run_tests(SOLUTION, [c for c, _ in cases], sandbox=npbox)
    failed = {f.index: f.reason for f in report.failures}
    for i, (case, passes) in enumerate(cases):
        assert (i not in failed) is passes, (i, case, failed.get(i))
    assert failed[4].startswith("wrong shape: (2,), expected (1, 2)")
    assert failed[2] == "wrong value"
    assert "ambiguous" in failed[len(cases) - 1]
    assert report.passed == sum(p for _, p in cases)


def test_run_tests_with_numpy_in_the_test_script(npbox: sr.Sandbox) -> None:
    tests = textwrap.dedent("""\
        import numpy as np

        def check(candidate):
            assert np.allclose(candidate(np.array([1.0, 2.0]), 0.1), np.array([0.1, 0.2]))
            assert np.allclose(candidate([1, 2], 3), [3.0, 6.0], atol=1e-9)
            assert np.array_equal(candidate([1, 2], 3), np.array([3.0, 6.0]))
            assert candidate([1, 2], 3).shape == (2,)
        """)
    cases = tests_from_assertions(tests, "scale")
    assert [c.kind for c in cases] == ["call", "call", "call", "script"]
    assert from_literal(cases[0].args)[0] == NumpyArray("float64", [2], [1.0, 2.0])
    # numpy's own rule: rtol 1e-5 and atol 1e-8 unless the test says; array_equal exact.
    assert [(c.compare, c.rtol, c.atol) for c in cases[:3]] == [
        ("allclose", 1e-5, 1e-8), ("allclose", 1e-5, 1e-9), ("allclose", 0.0, 0.0)]
    good = sr.run_tests(SOLUTION, tests, entry_point="scale", sandbox=npbox)
    assert (good.passed, good.total) == (4, 4), good.failures
    wrong = SOLUTION.replace("* k", "* k + 0.01")
    bad = sr.run_tests(wrong, tests, entry_point="scale", sandbox=npbox)
    # The script test is the whole test code: its own allclose fails too.
    assert (bad.passed, bad.total) == (0, 4)
    assert [f.reason for f in bad.failures[:3]] == ["wrong value"] * 3
    # np.allclose itself would broadcast (1, 2) against (2,); run_tests wants the shape.
    shape = SOLUTION.replace("return np.asarray(xs, dtype=float) * k",
                             "return (np.asarray(xs, dtype=float) * k).reshape(1, -1)")
    assert shape != SOLUTION
    reshaped = sr.run_tests(shape, tests, entry_point="scale", sandbox=npbox)
    assert reshaped.passed == 0
    assert any(f.reason.startswith("wrong shape") for f in reshaped.failures)


# ---------------------------------------------------------------------------------- properties

_DTYPES = ["bool", "int8", "int64", "uint8", "uint64", "float16", "float32", "float64",
           "complex64", "complex128", "U3"]


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(st.sampled_from(_DTYPES).map(np.dtype),
                  hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
def test_any_array_round_trips_through_its_rendered_form(arr: Any) -> None:
    lit = to_literal(arr)
    assert lit is not NOT_LITERAL
    text = render_literal(lit)
    assert to_literal(parse_value(text)) == lit, text
    real = realize_numpy(from_literal(lit))
    assert real.shape == arr.shape and real.dtype.kind == arr.dtype.kind
    if arr.dtype.kind != "U":
        assert real.dtype == arr.dtype
    np.testing.assert_array_equal(real, arr)
    assert values_equal(from_literal(lit), parse_value(text))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_DTYPES[:-1]).flatmap(lambda d: hnp.from_dtype(np.dtype(d))))
def test_any_scalar_round_trips_through_its_rendered_form(value: Any) -> None:
    lit = to_literal(value)
    assert lit is not NOT_LITERAL
    text = render_literal(lit)
    assert to_literal(parse_value(text)) == lit, text
    real = realize_numpy(from_literal(lit))
    assert type(real) is type(value)
    np.testing.assert_equal(real, value)


def test_numpy_reprs_spread_over_lines_are_one_answer(npbox: sr.Sandbox) -> None:
    src = "import numpy as np\n\ndef h(n):\n    m = np.arange(n * n).reshape(n, n)\n    return m\n"
    t = sr.trace(src, "h(2)", sandbox=npbox)
    s = sample_from_trace(t, ("output", "state"))
    assert [q.kind for q in s.questions] == ["output", "state"]
    # numpy prints 2-D arrays over several lines; a model that copies that style is read
    # the same way.
    block = ("<answer>\nassert h(2) == array([[0, 1],\n       [2, 3]])\n"
             "array([[0, 1],\n       [2, 3]]); numpy.ndarray\n</answer>")
    sc = sr.score(block, s)
    assert sc.reward == 1.0, sc.verdicts


def test_preloaded_openblas_runs_one_thread_per_task() -> None:
    """The template pins native thread pools before pre-loading: without that, OpenBLAS
    would size itself to the host's cores (2 here, 16 or 64 on a GPU node)."""
    libs = sorted(Path(np.__file__).parents[1].glob("numpy.libs/*openblas*.so*"))
    if not libs:
        pytest.skip("this numpy does not bundle OpenBLAS")
    code = textwrap.dedent(f"""\
        import ctypes, os
        lib = ctypes.CDLL({str(libs[0])!r}, mode=os.RTLD_NOLOAD)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(lib, name):
                print(getattr(lib, name)())
                break
        """)
    # Minimal isolation: the check reads the library's file, which Landlock would deny.
    with sr.Sandbox(workers=1, preload=["numpy", "ctypes"], isolation_mode="minimal") as sb:
        r = sb.run(code)
    assert r.ok, r.stderr[-500:]
    if not r.stdout:
        pytest.skip("no known OpenBLAS thread-count symbol")
    assert r.stdout == "1\n"
