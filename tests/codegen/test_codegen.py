"""Stage 2: unit tests for generated code, anti-hacking, task loaders, canonical solutions.

B-n codes: the reference implementation's bugs, as docs/method.md defines them.
"""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil
import time
from pathlib import Path

import pytest

import stepreward as sr
from stepreward.codegen import code_reward, extract_code, run_tests, tests_from_assertions
from stepreward.eval import (
    canonical_code,
    load_humaneval_plus,
    load_mbpp_plus,
    load_prime_code,
    tasks_from_synth,
    verify_canonical,
)

ADD_TESTS = [sr.TestCase.call("add", (1, 2), 3), sr.TestCase.call("add", (-1, 1), 0),
             sr.TestCase.call("add", (0.1, 0.2), 0.3, atol=1e-9)]
GOOD = "def add(a, b):\n    return a + b\n"


def test_doctests() -> None:
    # Every module of the package: extraction, assertions, tolerance, judging, running, reward.
    package = importlib.import_module("stepreward.codegen")
    names = [info.name for info in pkgutil.iter_modules(package.__path__)]
    assert {"_extract", "_assertions", "_tolerance", "_judge", "_run", "_api"} <= set(names)
    results = [doctest.testmod(importlib.import_module(f"stepreward.codegen.{name}"))
               for name in names]
    assert sum(r.failed for r in results) == 0
    # The method's stage-2 reward is a preset: its doctests run in tests/rewards/test_rewards.py.
    assert sum(r.attempted for r in results) >= 11


def fenced(code: str) -> str:
    return f"<reasoning>...</reasoning>\n<answer>\n```python\n{code}\n```\n</answer>"


def test_correct_code_passes(sandbox: sr.Sandbox) -> None:
    report = run_tests(GOOD, ADD_TESTS, sandbox=sandbox)
    assert report.status == "ok" and report.passed == 3 and report.pass_rate == 1.0
    assert code_reward(fenced(GOOD), ADD_TESTS, sandbox=sandbox).reward == 1.0


def test_partial_and_all_or_nothing(sandbox: sr.Sandbox) -> None:
    half = "def add(a, b):\n    return a + b if a > 0 else 99\n"
    rate = code_reward(fenced(half), ADD_TESTS, sandbox=sandbox)
    assert rate.reward == pytest.approx(2 / 3)
    assert rate.report is not None and rate.report.failures[0].reason == "wrong value"
    aon = code_reward(fenced(half), ADD_TESTS, mode="all_or_nothing", sandbox=sandbox)
    assert aon.reward == 0.0


def test_format_bonus_is_explicit(sandbox: sr.Sandbox) -> None:
    bad = "def add(a, b):\n    return None\n"
    assert code_reward(fenced(GOOD), ADD_TESTS, format_bonus=0.05,
                       sandbox=sandbox).reward == pytest.approx(1.05)
    # As in the reference: no bonus when nothing passes (B-7 fixed: 0, not a crash)...
    assert code_reward(fenced(bad), ADD_TESTS, format_bonus=0.05, sandbox=sandbox).reward == 0
    # ...unless asked for.
    assert code_reward(fenced(bad), ADD_TESTS, format_bonus=0.05, bonus_on_fail=True,
                       sandbox=sandbox).reward == pytest.approx(0.05)
    no_tags = f"```python\n{GOOD}\n```"
    assert code_reward(no_tags, ADD_TESTS, format_bonus=0.05, extract="last_block",
                       sandbox=sandbox).reward == 1.0
    # The bonus asks for the answer block that scoring reads: the last <answer>, closed after it
    # (both tags somewhere, in the wrong order, is no block).
    backwards = f"</answer>\n<answer>\n```python\n{GOOD}\n```"
    assert code_reward(backwards, ADD_TESTS, format_bonus=0.05, extract="last_block",
                       sandbox=sandbox).reward == 1.0


HACKS = {
    "returns None": "def add(a, b):\n    return None",
    "infinite loop": "def add(a, b):\n    while True:\n        pass",
    "os._exit(0)": "import os\ndef add(a, b):\n    os._exit(0)",
    "exit at import": "exit(0)\ndef add(a, b):\n    return a + b",
    "sys.exit in call": "import sys\ndef add(a, b):\n    sys.exit(0)",
    "always-equal object": "class Eq:\n    def __eq__(self, o):\n        return True\n"
                           "def add(a, b):\n    return Eq()",
    "int subclass": "class I(int):\n    def __eq__(self, o):\n        return True\n"
                    "def add(a, b):\n    return I(0)",
    "fake verdicts": "print('3 passed, 0 failed')\ndef add(a, b):\n    print('PASSED')\n"
                     "    return -7",
    "forged record": "import os, struct, json\ndef add(a, b):\n"
                     "    body = json.dumps({'status': 'ok', 'value': {'status': 'ok',"
                     " 'results': [['ok', 3], ['ok', 0], ['ok', 0.3]]}}).encode()\n"
                     "    os.write(3, b'SRR1' + struct.pack('>Q', len(body)) + body)\n"
                     "    return -7",
    "patch the encoder": "import stepreward.values as V\nV.to_literal = lambda *a, **k: 3\n"
                         "def add(a, b):\n    return None",
    "raises": "def add(a, b):\n    raise ValueError(a)",
    "memory bomb": "def add(a, b):\n    return bytearray(1 << 40)",
    "deep recursion": "def add(a, b):\n    return add(a, b)",
    "syntax error": "def add(a, b)\n    return a + b",
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_hacks_score_zero(sandbox: sr.Sandbox, name: str) -> None:
    score = code_reward(fenced(HACKS[name]), ADD_TESTS, sandbox=sandbox,
                        limits=sr.Limits(timeout_s=0.3))
    assert score.reward is not None and score.reward <= 1 / 3 + 1e-9, (name, score)
    if name != "patch the encoder":  # that one gets the test whose answer is 3 right
        assert score.reward == 0.0, (name, score.report)


def test_stdin_stdout_tests(sandbox: sr.Sandbox) -> None:
    tests = [sr.TestCase.io("3 4\n", "7\n"), sr.TestCase.io("1 1", "2"),
             sr.TestCase.io("5 5\n", "10  \n\n")]
    code = "a, b = map(int, input().split())\nprint(a + b)\n"
    assert run_tests(code, tests, sandbox=sandbox).passed == 3
    wrong = run_tests("print(0)", tests, sandbox=sandbox)
    assert wrong.passed == 0 and wrong.failures[0].reason == "wrong output"
    exits = run_tests("import sys\nprint(int(input().split()[0]) * 2)\nsys.exit(0)", tests,
                      sandbox=sandbox)
    assert exits.passed == 2  # exit(0) after printing is how scripts end


def test_extract_code_modes() -> None:
    text = ("```python\nx = 1\n```\n<answer>\n```python\ndef f():\n    return 1\n```\n"
            "```python\ndef f():\n    return 2\n```\n</answer>")
    assert extract_code(text) == "def f():\n    return 2\n"
    assert extract_code("<answer>no code</answer>") is None
    assert extract_code(text, "last_block") == "def f():\n    return 2\n"
    assert extract_code("<answer>def f(): pass</answer>", "raw") == "def f(): pass"
    assert extract_code("```py\nprint(1)\n```", "answer_block") == "print(1)\n"
    score = code_reward("I think the answer is obvious.", ADD_TESTS)
    assert score.reward == 0.0 and score.parse_error == "no code block found"
    assert code_reward(fenced(GOOD), None).reward is None
    assert code_reward(None, ADD_TESTS).parse_error == "completion is not text"


def test_assertion_conversion() -> None:
    code = ("METADATA = {}\n\ndef check(candidate):\n    assert candidate(1) == 2\n"
            "    assert abs(candidate(1.5) - 2.5) < 1e-6\n    assert candidate(3)\n"
            "    assert not candidate(-1)\n    assert candidate(x=2) == 3\n")
    tests = tests_from_assertions(code, "inc")
    assert [t.kind for t in tests] == ["call"] * 5
    assert tests[1].atol == 1e-6 and tests[2].compare == "truthy" and tests[3].compare == "falsy"
    mixed = tests_from_assertions("assert f([1]) == [2]\nassert sorted(f([2])) == [3]\n"
                                  "assert math.isclose(f([1.0]), 2.0, rel_tol=0.01)", "f")
    assert [t.kind for t in mixed] == ["call", "call", "script"]
    # math.isclose as Python defines it: a relative tolerance, no absolute one.
    assert (mixed[1].compare, mixed[1].rtol, mixed[1].atol) == ("isclose", 0.01, 0.0)
    # An entry point the code leaves ambiguous: a report that says so (run_tests never raises).
    ambiguous = run_tests(GOOD + "def sub(a, b):\n    return a - b\n",
                          "assert add(1, 2) == 3\nassert sub(1, 2) == -1")
    assert ambiguous.status == "load_error" and "entry_point" in (ambiguous.reason or "")
    assert run_tests(GOOD, "assert add(1, 2) == 3\nassert add(2, 2) == 5",
                     entry_point="add").passed == 1


def test_humaneval_plus_canonical_solutions(shared_data: Path, sandbox: sr.Sandbox) -> None:
    tasks = load_humaneval_plus(shared_data / "humanevalplus" / "HumanEvalPlus.jsonl.gz",
                                max_plus=8, sandbox=sandbox)
    assert len(tasks) == 164 and all(t.tests for t in tasks)
    reports = verify_canonical(tasks, sandbox=sandbox)
    failing = [(tid, r.failures[:2]) for tid, r in reports if r.pass_rate != 1.0]
    assert failing == []
    # A wrong solution for every task scores 0 (it returns None).
    wrong = [run_tests(f"def {t.entry_point}(*args, **kwargs):\n    return None\n",
                       t.tests, sandbox=sandbox).passed for t in tasks[:40]]
    assert sum(wrong) <= 3  # a few tasks do expect None or falsy results


def test_mbpp_plus_canonical_solutions(shared_data: Path, sandbox: sr.Sandbox) -> None:
    tasks = load_mbpp_plus(shared_data / "mbppplus" / "MbppPlus.jsonl.gz", max_plus=4,
                           sandbox=sandbox)
    assert len(tasks) == 378
    reports = verify_canonical(tasks, sandbox=sandbox)
    assert [(tid, r.failures[:2]) for tid, r in reports if r.pass_rate != 1.0] == []


@pytest.mark.slow
def test_all_plus_inputs_canonical(shared_data: Path) -> None:
    with sr.Sandbox(workers=2) as sb:
        for loader, path in ((load_humaneval_plus, "humanevalplus/HumanEvalPlus.jsonl.gz"),
                             (load_mbpp_plus, "mbppplus/MbppPlus.jsonl.gz")):
            tasks = loader(shared_data / path, sandbox=sb)
            reports = verify_canonical(tasks, sandbox=sb)
            assert [tid for tid, r in reports if r.pass_rate != 1.0] == []


def test_prime_code_format(sandbox: sr.Sandbox) -> None:
    rows = [
        {"id": "a", "prompt": [{"role": "user", "content": "Add two numbers."}],
         "reward_model": {"ground_truth": json.dumps(
             {"fn_name": "add", "inputs": [[1, 2], [5, 5]], "outputs": [[3], [10]]})}},
        {"id": "b", "prompt": "Echo doubled.", "ground_truth": json.dumps(
            {"inputs": ["2\n", "7\n"], "outputs": ["4\n", "14\n"]})},
    ]
    tasks = load_prime_code(rows)
    assert [t.entry_point for t in tasks] == ["add", None]
    assert run_tests(GOOD, tasks[0].tests, sandbox=sandbox).pass_rate == 1.0
    assert run_tests("print(int(input()) * 2)", tasks[1].tests, sandbox=sandbox).passed == 2


def test_synthesized_tasks(sandbox: sr.Sandbox) -> None:
    from stepreward.synth import synthesize

    items = list(synthesize(12, levels=(2, 3), seed=9, sandbox=sandbox))
    tasks = tasks_from_synth(items)
    assert tasks and all(t.source == "synth" and len(t.tests) >= 1 for t in tasks)
    assert "returns" in tasks[0].prompt
    for _, report in verify_canonical(tasks, sandbox=sandbox):
        assert report.pass_rate == 1.0
    assert canonical_code(tasks[0]) == tasks[0].canonical_solution


# ------------------------------------------------------------------------- bounded timeouts

LOOP = "def add(a, b):\n    while True:\n        pass\n"
# Swallows the first deadline and loops again inside the handler.
STUBBORN = ("def add(a, b):\n    try:\n        while True:\n            pass\n"
            "    except BaseException:\n        while True:\n            pass\n")
# Catches every deadline, forever: the task ends itself half a timeout later.
RELENTLESS = ("def add(a, b):\n    while True:\n        try:\n            while True:\n"
              "                pass\n        except BaseException:\n            pass\n")
OVERHEAD_S = 1.0  # process start-up and pool scheduling on a loaded 2-core machine


def _many_add_tests(n: int) -> list[sr.TestCase]:
    return [sr.TestCase.call("add", (i, 1), i + 1) for i in range(n)]


@pytest.mark.parametrize("code", [LOOP, STUBBORN, RELENTLESS, "while True:\n    try:\n"
                                  "        while True:\n            pass\n"
                                  "    except BaseException:\n        pass\n"],
                         ids=["loop", "swallows-timeout", "swallows-every-timeout",
                              "at-import"])
def test_looping_completion_costs_one_timeout(sandbox: sr.Sandbox, code: str) -> None:
    # 8 tests at 1 s each would take 8 s one after another; the bound is 1.5 x one timeout.
    report = run_tests(code, _many_add_tests(8), sandbox=sandbox, limits=sr.Limits(timeout_s=1.0))
    assert report.passed == 0 and report.duration_s < 1.5 * 1.0 + OVERHEAD_S, report
    # "timed out", "not run: an earlier test timed out", "loading the code timed out"
    assert all("timed out" in f.reason for f in report.failures), report.failures


def test_looping_completion_with_chunks_and_script(sandbox: sr.Sandbox) -> None:
    # 300 call tests (3 chunks) plus a script test: the probe chunk times out, and the
    # other chunks and the script (whose own deadline is 5 s) do not run.
    tests = [*_many_add_tests(300), sr.TestCase(kind="script", script="assert add(1, 1) == 2")]
    report = run_tests(LOOP, tests, sandbox=sandbox, limits=sr.Limits(timeout_s=0.5))
    assert report.passed == 0 and report.total == 301
    assert report.duration_s < 1.5 * 0.5 + OVERHEAD_S, report.duration_s
    good = run_tests(GOOD, tests, sandbox=sandbox, limits=sr.Limits(timeout_s=0.5))
    assert good.passed == 301


def test_partial_credit_before_a_timeout(sandbox: sr.Sandbox) -> None:
    code = "def add(a, b):\n    while a == 3:\n        pass\n    return a + b\n"
    report = run_tests(code, _many_add_tests(6), sandbox=sandbox, limits=sr.Limits(timeout_s=0.3))
    assert report.passed == 3  # 0, 1, 2 finished; 3 timed out; 4 and 5 fail fast
    assert [f.reason for f in report.failures] == ["timed out"] + [
        "not run: an earlier test timed out"] * 2


def test_io_tests_fail_fast_after_a_timeout(sandbox: sr.Sandbox) -> None:
    tests = [sr.TestCase.io(f"{i}\n", f"{i}\n") for i in range(8)]
    report = run_tests("x = input()\nwhile x == '0':\n    pass\nprint(x)\n", tests,
                       sandbox=sandbox, limits=sr.Limits(timeout_s=1.0))
    assert report.passed == 0 and report.duration_s < 1.5 + OVERHEAD_S
    relentless = ("x = input()\nwhile x == '0':\n    try:\n        while True:\n"
                  "            pass\n    except BaseException:\n        pass\nprint(x)\n")
    report = run_tests(relentless, tests, sandbox=sandbox, limits=sr.Limits(timeout_s=1.0))
    assert report.passed == 0 and report.duration_s < 1.5 + OVERHEAD_S


def test_crash_fallback_is_bounded_by_a_timeout(sandbox: sr.Sandbox) -> None:
    # The chunk dies (os._exit on the first test), so tests rerun one per task: the first
    # rerun that times out ends the fallback instead of 20 x (timeout + 1) s.
    code = "import os\ndef add(a, b):\n    if a == 0:\n        os._exit(0)\n    while True:\n" \
           "        pass\n"
    report = run_tests(code, _many_add_tests(8), sandbox=sandbox, limits=sr.Limits(timeout_s=0.5))
    assert report.passed == 0 and report.duration_s < 2 * (0.5 + 1) + OVERHEAD_S


def test_batch_and_adapters_inherit_the_bound(sandbox: sr.Sandbox) -> None:
    from stepreward.codegen import code_reward_many
    from stepreward.integrations.openrlhf import score_one
    from stepreward.integrations.trl import UnitTestReward

    task = sr.CodeTask(task_id="add", prompt="add", entry_point="add", tests=_many_add_tests(8))
    loop = fenced(LOOP)
    t0 = time.monotonic()
    scores = code_reward_many([loop, fenced(GOOD)] * 2, [task] * 4, limits=sr.Limits(timeout_s=1.0))
    assert [s.reward for s in scores] == [0.0, 1.0, 0.0, 1.0]
    assert time.monotonic() - t0 < 1.5 + OVERHEAD_S
    t0 = time.monotonic()
    assert UnitTestReward(timeout_s=1.0)(prompts=["p"], completions=[loop],
                                         task=[task.model_dump()]) == [0.0]
    assert time.monotonic() - t0 < 1.5 + OVERHEAD_S
    t0 = time.monotonic()
    reward, logs = score_one(loop, task.model_dump())  # what `serve` calls; 1 s default
    assert reward == 0.0 and logs["stepreward/pass_rate"] == 0.0
    assert time.monotonic() - t0 < 1.5 + OVERHEAD_S


def test_abs_tolerance_keeps_the_assertions_semantics(sandbox: sr.Sandbox) -> None:
    # ``abs(g(1) - 100) < 1`` is an absolute tolerance; 1.0 is 99 away.
    tests = tests_from_assertions("assert abs(g(1) - 100) < 1\nassert abs(g(2) - 5) <= 0.5",
                                  "g")
    assert [(t.compare, t.atol) for t in tests] == [("abs_lt", 1.0), ("abs_le", 0.5)]
    assert run_tests("def g(x):\n    return 1.0\n", tests, sandbox=sandbox).passed == 0
    close = run_tests("def g(x):\n    return 100.5 if x == 1 else 5.5\n", tests, sandbox=sandbox)
    assert close.passed == 2  # within 1 (strict) and exactly 0.5 (<=)
    far = run_tests("def g(x):\n    return 101 if x == 1 else 'x'\n", tests, sandbox=sandbox)
    assert far.passed == 0  # |101 - 100| < 1 is false; a string would raise TypeError


def _plus_rows(shared_data: Path) -> list[tuple[str, str, str, str]]:
    """(task_id, test code, canonical code, entry point) for all 541 HumanEval+/MBPP+ tasks."""
    import gzip

    rows = []
    for name, test_key, with_prompt in (("humanevalplus/HumanEvalPlus.jsonl.gz", "test", True),
                                        ("mbppplus/MbppPlus.jsonl.gz", "assertion", False)):
        with gzip.open(shared_data / name, "rt") as fh:
            for line in fh:
                r = json.loads(line)
                code = (r["prompt"] + r["canonical_solution"]) if with_prompt else \
                    r["canonical_solution"]
                rows.append((r["task_id"], r[test_key], code, r["entry_point"]))
    return rows


@pytest.mark.filterwarnings("ignore:invalid escape sequence")  # the data's own regexes
def test_entry_point_inferred_on_every_plus_task(shared_data: Path,
                                                 sandbox: sr.Sandbox) -> None:
    from stepreward.codegen import infer_entry_point

    rows = _plus_rows(shared_data)
    assert len(rows) == 164 + 378
    wrong = [(tid, infer_entry_point(test, code), entry) for tid, test, code, entry in rows
             if infer_entry_point(test, code) != entry]
    assert wrong == []
    # MBPP's asserts name the function by themselves, without the solution.
    assert all(infer_entry_point(test) == entry for tid, test, _, entry in rows
               if tid.startswith("Mbpp"))
    # run_tests on the assertion string alone: every canonical solution passes.
    failing = []
    for tid, test, code, _ in rows:
        report = run_tests(code, test, sandbox=sandbox, limits=sr.Limits(timeout_s=3.0))
        if report.pass_rate != 1.0:
            failing.append((tid, report.failures[:1]))
    assert failing == []


@pytest.mark.parametrize(("test_code", "code", "expected"), [
    ("def check(candidate):\n    assert candidate(1) == 2\n\ncheck(inc)\n", None, "inc"),
    ("def check(candidate):\n    assert candidate(1) == 2\n",
     "def helper(x):\n    return x\n\ndef inc(x):\n    return helper(x) + 1\n", "inc"),
    ("assert f([1]) == [1]\nassert sorted(f([2, 1])) == [1, 2]\n", None, "f"),
    ("def ref(x):\n    return x\nassert f(1) == ref(1)\n", None, "f"),
])
def test_infer_entry_point_shapes(test_code: str, code: str | None, expected: str) -> None:
    from stepreward.codegen import infer_entry_point

    assert infer_entry_point(test_code, code) == expected


@pytest.mark.parametrize(("test_code", "code"), [
    ("def check(candidate):\n    assert candidate(1) == 2\n", None),
    ("def check(candidate):\n    assert candidate(1) == 2\n",
     "def a(x):\n    return x\n\ndef b(x):\n    return x\n"),
    ("assert f(1) == 1\nassert g(1) == 1\n", None),
    ("assert 1 == 1\n", None),
])
def test_infer_entry_point_ambiguous(test_code: str, code: str | None) -> None:
    from stepreward.codegen import infer_entry_point

    with pytest.raises(ValueError, match="entry_point"):
        infer_entry_point(test_code, code)


# A HumanEval-style test whose asserts cannot become call tests: a script test.
SCRIPT_TEST = ("def check(candidate):\n    out = candidate([3, 1, 2])\n"
               "    assert out == sorted([3, 1, 2])\n    assert len(out) == 3\n")
FORGERIES = {
    "always-equal object": "class Eq(list):\n    def __eq__(self, o):\n        return True\n"
                           "    def __len__(self):\n        return 3\n"
                           "def srt(xs):\n    return Eq()\n",
    "forged record, then os._exit": (
        "import os, struct, json\n"
        "def srt(xs):\n"
        "    body = json.dumps({'status': 'ok', 'value': {'status': 'ok', 'passed': True,"
        " 'reason': None, 'records': [], 'values': {}, 'modules': {}, 'functions': []}})"
        ".encode()\n"
        "    os.write(3, b'SRR1' + struct.pack('>Q', len(body)) + body)\n"
        "    os._exit(0)\n"),
    "the reporting function": (
        "import sys\n"
        "def srt(xs):\n"
        "    for mod in list(sys.modules.values()):\n"
        "        report = getattr(mod, '_report', None)\n"
        "        if callable(report):\n"
        "            report({'status': 'ok', 'value': {'status': 'ok', 'passed': True,"
        " 'reason': None, 'records': [], 'values': {}, 'modules': {},"
        " 'functions': ['srt']}}, sys.stderr)\n"
        "    return xs\n"),
    "patched builtins": "import builtins\nbuiltins.sorted = lambda xs: 'x'\n"
                        "builtins.len = lambda xs: 3\ndef srt(xs):\n    return 'x'\n",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_script_tests_cannot_be_forged(sandbox: sr.Sandbox, name: str) -> None:
    # The script's verdict comes from a replay without the code.
    tests = tests_from_assertions(SCRIPT_TEST, "srt")
    assert [t.kind for t in tests] == ["script"]
    report = run_tests(FORGERIES[name], tests, sandbox=sandbox)
    assert report.passed == 0, (name, report.failures)
    honest = run_tests("def srt(xs):\n    return sorted(xs)\n", tests, sandbox=sandbox)
    assert honest.passed == 1, honest.failures


def test_script_replay_with_random_inputs_and_helpers(sandbox: sr.Sandbox) -> None:
    # HumanEval/38's shape: unseeded random inputs and a helper from the solution.
    test = ("import random\ndef check(candidate):\n    for _ in range(20):\n"
            "        s = ''.join(random.choice('abc') for _ in range(random.randint(1, 9)))\n"
            "        assert candidate(enc(s)) == s\n")
    code = ("import random\ndef enc(s):\n    random.random()\n    return s[::-1]\n"
            "def dec(s):\n    return s[::-1]\n")
    assert run_tests(code, test, entry_point="dec", sandbox=sandbox).passed == 1
    wrong = code.replace("return s[::-1]\n", "return s\n", 2).replace(
        "def dec(s):\n    return s\n", "def dec(s):\n    return s + 'x'\n")
    assert run_tests(wrong, test, entry_point="dec", sandbox=sandbox).passed == 0


def test_serve_inherits_the_timeout_bound() -> None:
    # `stepreward serve` as a real command on loopback: a looping completion with 8 tests
    # (default timeout 1 s) is answered within 1.5 s plus overhead, next to a correct one.
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "stepreward.cli", "serve", "--port",
                             str(port), "--workers", "2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        task = sr.CodeTask(task_id="add", prompt="add", entry_point="add",
                           tests=_many_add_tests(8)).model_dump_json()
        body = {"query": [fenced(LOOP), fenced(GOOD)], "prompts": ["", ""],
                "labels": [task, task]}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/get_reward",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        t0 = time.monotonic()
        with urllib.request.urlopen(req, timeout=60) as r:
            assert json.load(r)["rewards"] == [0.0, 1.0]
        assert time.monotonic() - t0 < 1.5 + OVERHEAD_S
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
