"""Stage-2 rewards a completion can earn without solving the task: each one is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import stepreward as sr
from stepreward.codegen import code_reward, run_tests


@pytest.fixture(scope="module")
def np_sandbox() -> Iterator[sr.Sandbox]:
    pytest.importorskip("numpy")
    with sr.Sandbox(workers=2, preload=["numpy"]) as sb:
        yield sb


def _answer(code: str) -> str:
    return f"<answer>\n```python\n{code}\n```\n</answer>"


# ------------------------------------------------------------------ script tests

SCRIPT = "for n in (3, 5):\n    assert total(n) == sum(range(n))\n"
RIGHT = "def total(n):\n    return n * (n - 1) // 2\n"

FORGED_RECORDS = '''
import builtins, sys
builtins.sum = lambda items, start=0: 99  # the recording run passes...
def total(n):
    frame = sys._getframe(1)
    while frame is not None and "records" not in frame.f_locals:
        frame = frame.f_back
    if frame is not None:  # ...and a made-up record says sum(range(n)) returned 99
        frame.f_locals["records"].append(
            ["sum", {"tuple": [{"range": [0, n, 1]}]}, {"dict": []}, "return", 99])
    return 99
'''

READS_THE_CALLER = '''
import ast, sys
def total(n):
    frame = sys._getframe(1)
    script = None
    while frame is not None:
        payload = frame.f_locals.get("payload")
        if isinstance(payload, dict) and "script" in payload:
            script = payload["script"]
        if frame.f_code.co_filename == "<test>":
            caller = frame
        frame = frame.f_back
    for node in ast.walk(ast.parse(script)):  # evaluate the assert's expected side
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call):
            expr = ast.Expression(node.comparators[0])
            return eval(compile(expr, "<x>", "eval"), caller.f_globals, caller.f_locals)
    return None
'''


def test_script_test_replay_stubs_only_the_completions_functions(sandbox: sr.Sandbox) -> None:
    """Made-up call records cannot make the replay stub a builtin (``sum``)."""
    tests = [sr.TestCase(kind="script", script=SCRIPT)]
    assert run_tests(RIGHT, tests, sandbox=sandbox).passed == 1
    report = run_tests(FORGED_RECORDS, tests, sandbox=sandbox)
    assert report.passed == 0, report


def test_a_solution_reading_the_calling_test_finds_no_expected_value(
        sandbox: sr.Sandbox) -> None:
    """The expected side of each assert never runs, nor exists, in the solution's process."""
    tests = [sr.TestCase(kind="script", script=SCRIPT)]
    report = run_tests(READS_THE_CALLER, tests, sandbox=sandbox)
    assert report.passed == 0, report


def test_prompt_helpers_win_over_the_completions_redefinitions(sandbox: sr.Sandbox) -> None:
    """HumanEval/50-style: the prompt gives ``encode_x``, the task is ``decode_x``; a
    completion that makes both the identity does not pass."""
    prompt = ('def encode_x(s: str) -> str:\n    return s[::-1] + "x"\n\n\n'
              'def decode_x(s: str) -> str:\n    """Undo encode_x."""\n')
    task = sr.CodeTask(task_id="x", prompt=prompt, entry_point="decode_x",
                       tests=[sr.TestCase(kind="script", script=(
                           "for s in ('ab', 'xyz', ''):\n"
                           "    assert decode_x(encode_x(s)) == s\n"))])
    identity = "def encode_x(s):\n    return s\n\ndef decode_x(s):\n    return s\n"
    right = "def decode_x(s):\n    return s[:-1][::-1]\n"
    assert code_reward(_answer(right), task, sandbox=sandbox).reward == 1.0
    assert code_reward(_answer(identity), task, sandbox=sandbox).reward == 0.0


# ------------------------------------------------------------------ tolerances


@pytest.mark.parametrize(("test", "returns", "passes"), [
    # math.isclose: rel_tol is relative to the larger magnitude, abs_tol defaults to 0.
    ("assert math.isclose(f(), 0.001, rel_tol=0.01)", "0.0", False),
    ("assert math.isclose(f(), 0.001, rel_tol=0.01)", "0.00100001", True),
    ("assert math.isclose(f(), 0.0, abs_tol=1e-9)", "1e-10", True),
    ("assert math.isclose(f(), 100.0)", "100.0000001", True),  # rel_tol=1e-9 by default
    ("assert math.isclose(f(), 100.0)", "100.001", False),
    # numpy: |a - b| <= atol + rtol * |b|, rtol 1e-5 and atol 1e-8 by default.
    ("assert np.isclose(f(), 0.001, rtol=0.01)", "0.0", False),
    ("assert np.isclose(f(), 0.0, atol=0)", "1e-7", False),
    ("assert np.isclose(f(), 0.0, atol=0)", "0.0", True),
    ("assert np.allclose(f(), 1.0)", "1.000005", True),
    ("assert np.allclose(f(), 1.0)", "1.0001", False),
    ("assert np.allclose(f(), 0.0)", "1e-7", False),
])
def test_tolerances_mean_what_the_test_says(np_sandbox: sr.Sandbox, test: str, returns: str,
                                            passes: bool) -> None:
    cases = sr.codegen.tests_from_assertions(test, "f")
    assert [c.kind for c in cases] == ["call"], cases
    report = run_tests(f"def f():\n    return {returns}\n", cases, sandbox=np_sandbox)
    assert (report.passed == 1) is passes, (test, returns, report)


def test_the_tolerance_comes_from_the_test_not_the_returned_type(
        np_sandbox: sr.Sandbox) -> None:
    exact = [sr.TestCase.call("f", (), 3)]
    for returns, passes in (("3", True), ("np.int64(3)", True), ("np.float64(3.0)", True),
                            ("np.float64(2.9999995)", False), ("2.9999995", False)):
        report = run_tests(f"import numpy as np\ndef f():\n    return {returns}\n", exact,
                           sandbox=np_sandbox)
        assert (report.passed == 1) is passes, (returns, report)


# ------------------------------------------------------------------ never raises, bounded


@pytest.mark.parametrize("code", [
    "def f(x):\n    return " + "-" * 200_000 + "x\n",
    "def f(x):\n    return x" + ".a" * 100_000 + "\n",
    "def f(x):\n    return " + " + ".join(["x"] * 1500) + "\n",
    "x = (" * 5000 + "1" + ")" * 5000 + "\n",
])
def test_code_reward_never_raises_on_deeply_nested_code(sandbox: sr.Sandbox, code: str) -> None:
    tests = "def check(candidate):\n    assert candidate(1) == 1\n"
    score = code_reward(_answer(code), tests, sandbox=sandbox)
    assert score.reward == 0.0
    report = run_tests(code, tests, sandbox=sandbox)
    assert report.passed == 0


def test_a_value_far_larger_than_expected_costs_its_test_only(sandbox: sr.Sandbox) -> None:
    code = ("def f(x):\n"
            "    return [[] for _ in range(300_000)] if x == 0 else x\n")
    tests = [sr.TestCase.call("f", (i,), i) for i in range(3)]
    report = run_tests(code, tests, sandbox=sandbox)
    assert report.passed == 2 and [f.index for f in report.failures] == [0], report


def test_a_task_that_blocks_its_timer_costs_one_test_deadline(sandbox: sr.Sandbox) -> None:
    """sigprocmask through ctypes: the runner's SIGALRM never arrives; the template's
    progress deadline (1.5 x timeout_s + 0.5 s after the test started) ends the task."""
    code = ("import ctypes, signal\n"
            "def f(x):\n"
            "    mask = (ctypes.c_ulong * 16)(1 << (signal.SIGALRM - 1))\n"
            "    ctypes.CDLL(None).sigprocmask(0, mask, None)\n"
            "    while True:\n"
            "        pass\n")
    tests = [sr.TestCase.call("f", (i,), i) for i in range(4)]
    t0 = time.monotonic()
    report = run_tests(code, tests, sandbox=sandbox, limits=sr.Limits(timeout_s=1.0))
    took = time.monotonic() - t0
    assert report.passed == 0
    assert took < 1.5 * 1.0 + 0.5 + 1.5, took  # before: 4 x 1 s + 2 s
