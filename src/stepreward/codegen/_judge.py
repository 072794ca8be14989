"""Judging what a test task reported: one verdict per test, and the report over all of them."""

from __future__ import annotations

import time
from typing import Any, Literal

from stepreward.codegen._tolerance import value_matches
from stepreward.types import TestCase, TestFailure, TestReport
from stepreward.values import NumpyArray, from_literal

#: One test's verdict: passed, why not, and what it returned (a literal, or printed text).
Outcome = tuple[bool, str, Any]

SKIPPED = "not run: an earlier test timed out"


def normalise_stdout(text: str) -> str:
    """Printed output as compared: line ends unified, trailing spaces and blank lines dropped.

    Example:
        >>> normalise_stdout("1 \\r\\n2\\n\\n")
        '1\\n2'
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def stdout_matches(printed: str, expected: str | None) -> bool:
    """Whether printed output equals the expected output, both normalised."""
    return normalise_stdout(printed) == normalise_stdout(expected or "")


def judge_call(case: TestCase, raw: list[Any]) -> Outcome:
    """The verdict of call test ``case`` from the task's raw result for it."""
    status = raw[0]
    if status == "timeout":
        return False, "timed out", None
    if status == "skipped":
        return False, SKIPPED, None
    if status == "error":
        return False, f"raised {raw[1]}: {raw[2]}", None
    if status == "big":  # over the test's budget: far larger than the expected value
        truth = raw[2] if len(raw) > 2 else None
        if case.compare in ("truthy", "falsy") and isinstance(truth, bool):
            ok = truth if case.compare == "truthy" else not truth
            return ok, f"returned a {'falsy' if case.compare == 'truthy' else 'truthy'} value", None
        return False, f"returned a {raw[1]} far larger than the expected value", None
    if status == "nonliteral":
        truth = raw[2] if len(raw) > 2 else None
        if case.compare in ("truthy", "falsy") and isinstance(truth, bool):
            ok = truth if case.compare == "truthy" else not truth
            return ok, f"returned a {'falsy' if case.compare == 'truthy' else 'truthy'} value", None
        return False, f"returned a {raw[1]}, not a plain value", None
    got_lit = raw[1]
    if case.compare == "equal" and got_lit == case.expected:
        return True, "", got_lit  # the same canonical encoding: the same value and type
    try:
        got = from_literal(got_lit)
    except ValueError:
        return False, "returned a malformed value", None
    if case.compare in ("truthy", "falsy") and type(got) is NumpyArray and got.size != 1:
        # `assert f(x)` raises there too: an array's truth value is ambiguous.
        return False, "returned an array, whose truth value is ambiguous", got_lit
    if case.compare == "truthy":
        return bool(got), "returned a falsy value", got_lit
    if case.compare == "falsy":
        return not got, "returned a truthy value", got_lit
    ok, reason = value_matches(case, got)
    return ok, reason, got_lit


def judge_io(case: TestCase, raw: list[Any]) -> Outcome:
    """The verdict of I/O test ``case`` from the task's raw result for it."""
    if raw[0] == "skipped":
        return False, SKIPPED, None
    printed = raw[-1] if isinstance(raw[-1], str) else ""
    ok = raw[0] == "ok" and stdout_matches(printed, case.expected_stdout)
    reason = "wrong output" if raw[0] == "ok" else (
        "timed out" if raw[0] == "timeout" else f"{raw[0]}: {raw[1:2]}")
    return ok, reason, printed[:200]


def report(outcomes: list[Outcome | None], load_problem: str | None, t0: float) -> TestReport:
    """The test report of the verdicts (a test without one was not run)."""
    failures = []
    passed = 0
    for i, o in enumerate(outcomes):
        ok, reason, got = o if o is not None else (False, "not run", None)
        if ok:
            passed += 1
        else:
            failures.append(TestFailure(index=i, reason=reason, got=got))
    status: Literal["ok", "load_error"] = "load_error" if load_problem and passed == 0 else "ok"
    return TestReport(passed=passed, total=len(outcomes), failures=failures, status=status,
                      reason=load_problem, duration_s=time.monotonic() - t0)
