"""Golden traces with hand-checked steps, including every labelling defect of the reference.

B-n codes: the reference implementation's bugs, as docs/method.md defines them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import stepreward as sr
from programs import PAPER

HELPER = """def g(v):
    return v * 2

def f(xs):
    acc = 0
    for x in xs:
        acc = g(x) if x > 1 else acc + 1
    return acc
"""


def lines(t: sr.Trace) -> list[int]:
    return [s.line for s in t.steps]


def val(t: sr.Trace, line: int, k: int, var: str) -> object:
    v = t.value_after(line, k, var)
    assert v is not None, (line, k, var)
    return v.to_python()


def test_paper_example(sandbox: sr.Sandbox) -> None:
    t = sr.trace(PAPER, "f([3, 4, 6, 9], 3)", sandbox=sandbox)
    assert t.status == "ok" and not t.truncated
    assert lines(t) == [2, 3, 4, 5, 3, 4, 7, 3, 4, 7, 3, 4, 7, 3, 8, 9]
    assert t.result is not None and t.result.to_python() == [3]
    # Next statement, occurrence-exact (B-2: the return line ran once, and the program ends).
    assert t.next_line(2, 1) == 3
    assert t.next_line(4, 1) == 5 and t.next_line(4, 2) == 7
    assert t.next_line(3, 5) == 8
    assert t.next_line(9, 1) == -1
    assert t.next_line(9, 2) is None and t.next_line(6, 1) is None
    # State after the statement (B-5: set() is a proper literal, typed set).
    assert val(t, 2, 1, "out") == [] and val(t, 5, 1, "out") == [3]
    assert val(t, 7, 3, "k") == 6 and val(t, 3, 4, "x") == 9
    s = t.value_after(8, 1, "s")
    assert s is not None and s.type_name == "set" and s.to_python() == set() and s.askable
    assert t.executed_lines == {2, 3, 4, 5, 7, 8, 9}
    assert t.occurrences(3) == 5
    assert t.steps[4].changed == ("x",)


def test_helper_first_program_traces_the_entry_point(sandbox: sr.Sandbox) -> None:
    # B-1: the entry point is the call's function, not the first def. B-3: exact occurrences.
    t = sr.trace(HELPER, "f([1, 2, 1])", sandbox=sandbox)
    assert lines(t) == [5, 6, 7, 6, 7, 2, 6, 7, 6, 8]
    assert [s.func for s in t.steps] == ["f"] * 5 + ["g"] + ["f"] * 4
    assert [s.depth for s in t.steps] == [0] * 5 + [1] + [0] * 4
    assert val(t, 7, 1, "acc") == 1
    assert val(t, 7, 2, "acc") == 4  # the reference labels this 5
    assert val(t, 7, 3, "acc") == 5
    assert t.next_line(7, 2) == 2  # a call line is followed by the callee's first statement
    assert t.next_line(2, 1) == 6  # a return by the caller's next statement
    assert val(t, 2, 1, "v") == 2
    assert t.result is not None and t.result.to_python() == 5


def test_comprehension_frames_fold_into_the_statement(sandbox: sr.Sandbox) -> None:
    src = ("def helper(s):\n    return s.upper()\n\ndef f(words, n):\n"
           "    res = [helper(w) for w in words if len(w) > n]\n"
           "    total = sum(len(w) for w in words)\n    return res, total\n")
    t = sr.trace(src, "f(['ab', 'abc', 'abcd'], 2)", sandbox=sandbox)
    assert lines(t) == [5, 2, 2, 6, 7]
    assert t.occurrences(5) == 1 and t.occurrences(2) == 2
    assert t.next_line(2, 1) == 2 and t.next_line(2, 2) == 6
    assert val(t, 5, 1, "res") == ["ABC", "ABCD"]
    assert "w" not in t.steps[0].state_after  # comprehension variables are not locals of f


def test_multi_line_statements_are_one_step(sandbox: sr.Sandbox) -> None:
    src = ("def f(a):\n    x = (a +\n         1 +\n         2)\n    if (x > 3 and\n"
           "            x < 10):\n        y = [\n            x,\n            x * 2,\n        ]\n"
           "    else:\n        y = None\n    return y\n")
    t = sr.trace(src, "f(4)", sandbox=sandbox)
    assert lines(t) == [2, 5, 7, 13]
    assert val(t, 2, 1, "x") == 7 and val(t, 7, 1, "y") == [7, 14]
    t = sr.trace(src, "f(0)", sandbox=sandbox)
    assert lines(t) == [2, 5, 12, 13]
    none = t.value_after(12, 1, "y")
    assert none is not None and none.type_name == "NoneType" and none.is_literal
    assert none.to_python() is None


def test_while_break_and_loop_else(sandbox: sr.Sandbox) -> None:
    src = ("def f(n):\n    i = 0\n    while True:\n        i += 1\n        if i >= n:\n"
           "            break\n    for j in range(2):\n        pass\n    else:\n"
           "        i = -i\n    return i\n")
    t = sr.trace(src, "f(2)", sandbox=sandbox)
    assert lines(t) == [2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 7, 8, 7, 10, 11]
    assert t.next_line(6, 1) == 7 and t.next_line(7, 3) == 10
    assert val(t, 10, 1, "i") == -2
    r = t.value_after(7, 1, "j")
    assert r is not None and r.to_python() == 0


def test_recursion_counts_occurrences_across_frames(sandbox: sr.Sandbox) -> None:
    src = "def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n"
    t = sr.trace(src, "fact(3)", sandbox=sandbox)
    assert lines(t) == [2, 4, 2, 4, 2, 3]
    assert [s.depth for s in t.steps] == [0, 0, 1, 1, 2, 2]
    assert t.step_at(2, 3) is not None and t.step_at(2, 3).depth == 2  # type: ignore[union-attr]
    assert t.next_line(3, 1) == -1  # the inner returns complete inside line 4: no new steps
    assert val(t, 2, 2, "n") == 2 and t.result.to_python() == 6  # type: ignore[union-attr]


def test_exceptions_raised_and_handled(sandbox: sr.Sandbox) -> None:
    src = ("def f(xs):\n    total = 0\n    for x in xs:\n        try:\n"
           "            total += 10 // x\n        except ZeroDivisionError:\n"
           "            total -= 1\n    return total\n")
    t = sr.trace(src, "f([5, 0])", sandbox=sandbox)
    assert t.status == "ok"
    assert lines(t) == [2, 3, 4, 5, 3, 4, 5, 6, 7, 3, 8]
    assert t.result.to_python() == 1  # type: ignore[union-attr]
    t = sr.trace("def f(d):\n    x = 1\n    return d['missing']\n", "f({})", sandbox=sandbox)
    assert t.status == "exception" and t.exception is not None
    assert t.exception.type == "KeyError" and t.exception.line == 3
    assert lines(t) == [2, 3] and t.next_line(3, 1) == -1
    assert t.result is None and "KeyError" in (t.reason or "")


def test_value_types(sandbox: sr.Sandbox) -> None:
    src = ("import collections\ndef f():\n    a = None\n    b = frozenset({1, 2})\n"
           "    c = range(1, 5, 2)\n    d = collections.Counter('aab')\n"
           "    e = {(1, 2): {'x': [1.5, float('inf')]}}\n    g = b'\\x00ab'\n"
           "    h = 'x' * 500\n    i = lambda: 0\n    return a\n")
    t = sr.trace(src, "f()", sandbox=sandbox)
    last = t.steps[-1].state_after
    assert (last["a"].type_name, last["a"].to_python()) == ("NoneType", None)
    assert last["b"].to_python() == frozenset({1, 2}) and last["b"].type_name == "frozenset"
    assert last["c"].to_python() == range(1, 5, 2)
    assert last["d"].type_name == "collections.Counter" and not last["d"].is_literal
    assert last["e"].to_python() == {(1, 2): {"x": [1.5, float("inf")]}}
    assert last["g"].to_python() == b"\x00ab"
    assert last["h"].truncated and not last["h"].askable and len(last["h"].repr) == 200
    assert last["i"].repr == "<function f.<locals>.<lambda> at 0x...>"


def test_call_as_statements_with_a_class(sandbox: sr.Sandbox) -> None:
    src = ("class Stack:\n    def __init__(self):\n        self.items = []\n"
           "    def push(self, x):\n        self.items.append(x)\n        return len(self.items)\n")
    t = sr.trace(src, "s = Stack()\ns.push(4)\ns.push(5)\ns.items", sandbox=sandbox)
    assert t.status == "ok" and lines(t) == [3, 5, 6, 5, 6]
    assert [s.func for s in t.steps] == ["__init__", "push", "push", "push", "push"]
    assert t.result.to_python() == [4, 5]  # type: ignore[union-attr]
    t = sr.trace(src, "s = Stack()", sandbox=sandbox)
    assert t.status == "ok" and t.result is None


def test_generators_are_traced(sandbox: sr.Sandbox) -> None:
    src = ("def gen(n):\n    for i in range(n):\n        yield i * i\n\n"
           "def f(n):\n    return list(gen(n))\n")
    t = sr.trace(src, "f(2)", sandbox=sandbox)
    assert lines(t) == [6, 2, 3, 2, 3, 2]
    assert t.result.to_python() == [0, 1]  # type: ignore[union-attr]


def test_step_cap_truncates(sandbox: sr.Sandbox) -> None:
    src = "def f():\n    i = 0\n    while True:\n        i += 1\n"
    t = sr.trace(src, "f()", sandbox=sandbox, max_steps=50)
    assert t.truncated and "50" in (t.truncated_reason or "")
    assert len(t.steps) == 50 and t.result is None
    assert t.next_line(t.steps[-1].line, t.steps[-1].occurrence) is None
    assert t.next_line(t.steps[-2].line, t.steps[-2].occurrence) == t.steps[-1].line
    # A program that swallows the stop cannot keep running: the trace still comes back.
    src = ("def f():\n    while True:\n        try:\n            x = 1\n"
           "        except BaseException:\n            pass\n")
    t = sr.trace(src, "f()", sandbox=sandbox, max_steps=20)
    assert t.truncated and len(t.steps) == 20


def test_program_that_disables_tracing_is_marked(sandbox: sr.Sandbox) -> None:
    src = "import sys\ndef f():\n    sys.settrace(None)\n    x = 1\n    return x\n"
    t = sr.trace(src, "f()", sandbox=sandbox)
    assert t.truncated and "switched off" in (t.truncated_reason or "")


def test_setup_and_call_errors(sandbox: sr.Sandbox) -> None:
    t = sr.trace("def f(:\n    pass\n", "f()", sandbox=sandbox)
    assert t.status == "error" and t.exception.type == "SyntaxError"  # type: ignore[union-attr]
    assert t.exception.line == 1 and "failed to load" in (t.reason or "")  # type: ignore[union-attr]
    t = sr.trace("x = 1 / 0\n", "x", sandbox=sandbox)
    assert t.status == "error" and t.exception.type == "ZeroDivisionError"  # type: ignore[union-attr]
    t = sr.trace("def f():\n    return 1\n", "f(", sandbox=sandbox)
    assert t.status == "error" and "call is invalid" in (t.reason or "")
    t = sr.trace("def f():\n    return 1\n", "g()", sandbox=sandbox)
    assert t.status == "exception" and t.exception.type == "NameError"  # type: ignore[union-attr]
    t = sr.trace("import time\ndef f():\n    time.sleep(10)\n", "f()", sandbox=sandbox,
                 limits=sr.Limits(timeout_s=0.3))
    assert t.status == "timeout" and t.steps == [] and t.reason
    with pytest.raises(TypeError):
        sr.trace(b"x", "f()")  # type: ignore[arg-type]


def test_program_output_is_kept(sandbox: sr.Sandbox) -> None:
    t = sr.trace("def f():\n    print('hi')\n    return 2\n", "f()", sandbox=sandbox)
    assert t.stdout == "hi\n"


def test_traces_are_deterministic(sandbox: sr.Sandbox) -> None:
    src = ("def f(words):\n    seen = set(words)\n    d = {w: len(w) for w in seen}\n"
           "    return sorted(d.items()), seen\n")
    a = sr.trace(src, "f(['pear', 'fig', 'apple', 'kiwi'])", sandbox=sandbox)
    b = sr.trace(src, "f(['pear', 'fig', 'apple', 'kiwi'])")
    assert a.model_dump_json(exclude={"duration_s"}) == b.model_dump_json(exclude={"duration_s"})


def test_trace_round_trips_through_json(sandbox: sr.Sandbox) -> None:
    t = sr.trace(PAPER, "f([3, 4, 6, 9], 3)", sandbox=sandbox)
    again = sr.Trace.model_validate_json(t.model_dump_json())
    assert again.model_dump() == t.model_dump()
    assert again.next_line(3, 5) == 8
    assert json.loads(t.model_dump_json())["steps"][0]["line"] == 2


PYTHONS = [p for p in (f"/root/.pyenv/versions/{v}/bin/python"
                       for v in ("3.10.13", "3.12.1", "3.13.0")) if os.path.exists(p)]
GOLDEN = [(PAPER, "f([3, 4, 6, 9], 3)"), (HELPER, "f([1, 2, 1])"),
          ("def helper(s):\n    return s.upper()\n\ndef f(words, n):\n"
           "    res = [helper(w) for w in words if len(w) > n]\n    return res\n",
           "f(['ab', 'abc', 'abcd'], 2)"),
          ("def f(xs):\n    total = 0\n    for x in xs:\n        try:\n"
           "            total += 10 // x\n        except ZeroDivisionError:\n"
           "            total -= 1\n    return total\n", "f([5, 0])"),
          ("def f(n):\n    i = 0\n    while True:\n        i += 1\n        if i >= n:\n"
           "            break\n    for j in range(2):\n        pass\n    else:\n"
           "        i = -i\n    return i\n", "f(2)"),
          ("def f(p):\n    with open(p, 'w') as fh:\n        fh.write('x')\n    return 1\n",
           "f('out.txt')")]


@pytest.mark.skipif(not PYTHONS, reason="no other CPython versions installed")
@pytest.mark.parametrize("python", PYTHONS)
def test_same_steps_on_other_python_versions(sandbox: sr.Sandbox, python: str) -> None:
    with sr.Sandbox(workers=1, python=python) as other:
        for src, call in GOLDEN:
            here = sr.trace(src, call, sandbox=sandbox)
            there = sr.trace(src, call, sandbox=other)
            assert here.status == there.status == "ok", (here.reason, there.reason)
            assert [(s.line, s.occurrence, s.depth, s.state_after) for s in here.steps] == \
                   [(s.line, s.occurrence, s.depth, s.state_after) for s in there.steps], src
            assert here.result == there.result


def test_real_cruxeval_programs_trace(sandbox: sr.Sandbox, shared_data: Path) -> None:
    rows = [json.loads(line) for line in
            (shared_data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()[:60]]
    traces = sr.trace_many([(r["code"], f"f({r['input']})") for r in rows], sandbox=sandbox)
    for row, t in zip(rows, traces, strict=True):
        assert t.status == "ok", (row["id"], t.reason)
        assert t.result is not None and t.steps
        # The recorded result is the benchmark's expected output.
        from stepreward.values import parse_value, values_equal

        assert values_equal(t.result.to_python(), parse_value(row["output"])), row["id"]
