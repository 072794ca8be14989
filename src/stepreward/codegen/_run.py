"""``run_tests``: plan the sandbox tasks for a list of tests, dispatch them, judge the results.

The plan groups call tests of one function into bounded chunks, all I/O tests into one task and
each script test into its own. Dispatch runs the first task alone (a probe: a looping or broken
completion costs one task, not one per chunk), the rest concurrently on the pool, and tests whose
task died one per task. The expected values never leave the trainer: tasks report what the code
returned or printed, and :mod:`stepreward.codegen._judge` decides.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stepreward._compat import warn_renamed
from stepreward._jsonlimits import count_values
from stepreward.codegen._assertions import infer_entry_point, tests_from_assertions
from stepreward.codegen._judge import (
    SKIPPED,
    Outcome,
    judge_call,
    judge_io,
    report,
    stdout_matches,
)
from stepreward.codegen._script import recording_script, script_names, script_stubs
from stepreward.types import Limits, TestCase, TestReport

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["DEFAULT_TEST_LIMITS", "MAX_FALLBACK_TESTS", "run_tests", "test_limits"]

MAX_FALLBACK_TESTS = 20
CHUNK = 128  # at most this many call tests per sandbox task...
CHUNK_BYTES = 1 << 20  # ...and about this much argument data
_CHILD = "stepreward.codegen._child"
#: Each test's limits unless told otherwise: 1 s, 512 MB (the task's other limits as Limits has).
DEFAULT_TEST_LIMITS = Limits(timeout_s=1.0, memory_mb=512)
# What a test's reported value may take before the trainer reads it: four times the expected
# value's literal and 4 KiB (a value far larger cannot be equal; the task reports it as
# "big"), in bytes, and eight JSON values per expected one and 64 (tags, dict entries). A
# truthy/falsy test needs only the truth. Printed output: four times the expected and 64 KiB.
_VALUE_SLACK_BYTES = 4 << 10
_VALUE_SLACK_ITEMS = 64
_STDOUT_SLACK = 64 << 10
_RECORD_SLACK = 64 << 10


def _budget(case: TestCase) -> list[int]:
    """``[bytes, items]`` that test ``case``'s reported value may take."""
    if case.compare in ("truthy", "falsy"):
        return [_VALUE_SLACK_BYTES, _VALUE_SLACK_ITEMS]
    text = json.dumps(case.expected, separators=(",", ":"))
    return [4 * len(text) + _VALUE_SLACK_BYTES, 8 * count_values(text) + _VALUE_SLACK_ITEMS]


def _stdout_cap(case: TestCase) -> int:
    return 4 * len(case.expected_stdout or "") + _STDOUT_SLACK


@dataclass(frozen=True)
class _Job:
    """One sandbox task of the plan."""

    kind: str  # "call", "io" or "script"
    idx: list[int]  # the indices of its tests
    target: str  # the function of codegen._child that runs it
    payload: dict[str, Any]
    deadline_s: float  # the task's own time limit
    record: tuple[int, int] = (256 << 20, 1 << 20)  # its result record's [bytes, values]


def _chunks(idx: list[int], cases: Sequence[TestCase]) -> Iterator[list[int]]:
    current: list[int] = []
    size = 0
    for i in idx:
        weight = len(json.dumps(cases[i].args, separators=(",", ":")))
        if current and (len(current) >= CHUNK or size + weight > CHUNK_BYTES):
            yield current
            current, size = [], 0
        current.append(i)
        size += weight
    if current:
        yield current


def _plan(code: str, cases: list[TestCase], timeout_s: float) -> list[_Job]:
    """The tasks that run ``cases``: call tests by function in chunks, I/O tests, scripts."""
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cases):
        if c.kind == "call":
            groups.setdefault(c.fn_name or "", []).append(i)
    jobs: list[_Job] = []
    for fn, all_idx in groups.items():
        # Chunks keep payloads and results bounded and let one runaway test cost only its
        # chunk; they run concurrently on the pool.
        for idx in _chunks(all_idx, cases):
            budgets = [_budget(cases[i]) for i in idx]
            jobs.append(_Job("call", idx, "run_call_tests",
                             {"code": code, "fn_name": fn, "timeout_s": timeout_s,
                              "cases": [[cases[i].args, cases[i].kwargs] for i in idx],
                              "budgets": budgets},
                             timeout_s * len(idx) + 2,
                             (sum(b[0] for b in budgets) + _RECORD_SLACK,
                              sum(b[1] for b in budgets) + 8 * len(idx) + 64)))
    io_idx = [i for i, c in enumerate(cases) if c.kind == "io"]
    if io_idx:
        caps = [_stdout_cap(cases[i]) for i in io_idx]
        jobs.append(_Job("io", io_idx, "run_io_tests",
                         {"code": code, "timeout_s": timeout_s,
                          "stdins": [cases[i].stdin or "" for i in io_idx], "max_stdout": caps},
                         timeout_s * len(io_idx) + 2,
                         # printed text escaped in JSON takes at most six bytes a character
                         (6 * sum(caps) + _RECORD_SLACK, 8 * len(io_idx) + 64)))
    for i, c in enumerate(cases):
        if c.kind == "script":
            # The task that runs the completion gets the script without the expected side
            # of its asserts; the replay, without the completion, runs the original.
            jobs.append(_Job("script", [i], "run_script_record",
                             {"code": code, "script": recording_script(c.script or ""),
                              "names": script_names(c.script or ""), "timeout_s": timeout_s},
                             max(timeout_s * 5, 5.0)))
    return jobs


def _replay_script(sb: Sandbox, script: str, code: str, recorded: dict[str, Any],
                   lim: Limits) -> Outcome:
    """The verdict of a script test: the task that ran the code only recorded the values
    its functions returned; the test script runs again, without the code, on those values,
    so nothing the code does (an always-equal object, a forged report) can pass it. Which
    functions the replay stubs is read here, from the script and the code, never from what
    the recording task reports: no record can make it stub a builtin or a script's own name."""
    if not recorded.get("passed"):
        return False, str(recorded.get("reason")), None  # a failure the code could only fake
    try:
        # Read statically: the names the script reads freely and the code binds. What the
        # task reports can only sort those into functions, modules and values (an import
        # binds either), never add one: no record makes the replay stub `sum`.
        static = script_stubs(script, code)
        stubs = [n for n in static if n in {str(f) for f in recorded["functions"]}]
        records = [r for r in recorded["records"]
                   if isinstance(r, list) and len(r) == 5 and r[0] in stubs]
        payload = {"script": script, "records": records,
                   "values": {k: v for k, v in dict(recorded["values"]).items()
                              if k in static and k not in stubs},
                   "modules": {k: v for k, v in dict(recorded["modules"]).items()
                               if k in static and k not in stubs},
                   "functions": stubs}
    except (KeyError, TypeError, ValueError):
        return False, "not gradeable: malformed records", None
    res = sb.call(f"{_CHILD}:run_script_replay", payload, limits=lim)
    value = res.value if res.ok and isinstance(res.value, dict) else None
    if value is None:
        return False, f"the test script's replay {res.status}: {res.reason}", None
    return bool(value.get("passed")), str(value.get("reason")), None


class _Dispatch:
    """Runs the planned tasks on the sandbox and records one verdict per test."""

    def __init__(self, sb: Sandbox, code: str, cases: list[TestCase], *, limits: Limits,
                 total_timeout_s: float, max_fallback_tests: int, t0: float) -> None:
        self.sb, self.code, self.cases = sb, code, cases
        self.base, self.timeout_s, self.total_timeout_s = limits, limits.timeout_s, total_timeout_s
        self.max_fallback_tests, self.t0 = max_fallback_tests, t0
        self.outcome: list[Outcome | None] = [None] * len(cases)
        self.load_problem: str | None = None
        self.timed_out = False
        self.retry: list[int] = []

    def limits(self, seconds: float, job: _Job | None = None) -> Limits:
        """A task's limits: the tests' own, with the task's deadline, room for what the job
        reports, and (call and I/O tasks) the progress deadline."""
        record = job.record if job is not None else (256 << 20, 1 << 20)
        # Call and I/O tasks report each test's start; the template kills one that goes
        # 1.5 x timeout_s + 0.5 s without a report (its per-test timer blocked or ignored),
        # half a second after the task's own last resort would have ended it.
        progress = 1.5 * self.timeout_s + 0.5 if job is not None and job.kind in (
            "call", "io") else None
        return self.base.model_copy(update={
            "timeout_s": min(max(seconds, 0.5), self.total_timeout_s),
            "max_result_bytes": max(1024, record[0]), "max_result_items": max(16, record[1]),
            "progress_timeout_s": progress})

    def submit(self, job: _Job) -> Any:
        return self.sb.call_submit(f"{_CHILD}:{job.target}", job.payload,
                                   limits=self.limits(job.deadline_s, job))

    def run(self, jobs: list[_Job]) -> None:
        # Probe first: when a completion needs several tasks, its first task runs alone, and
        # the rest only if none of its tests timed out and the code loaded. A looping
        # completion then costs one per-test timeout, not one per chunk (or a script's 5 s).
        rest = jobs
        if len(jobs) > 1:
            self.collect(jobs[0], self.submit(jobs[0]).result())
            rest = jobs[1:]
            if self.timed_out or self.load_problem:
                reason = self.load_problem or SKIPPED
                for job in rest:
                    for i in job.idx:
                        self.outcome[i] = (False, reason, None)
                rest = []
        for job, fut in [(job, self.submit(job)) for job in rest]:
            self.collect(job, fut.result())
        self.rerun_alone()

    def collect(self, job: _Job, res: Any) -> None:
        """Record the verdicts of one finished task (or queue its tests to rerun alone)."""
        idx = job.idx
        value = res.value if res.ok and isinstance(res.value, dict) else None
        if value is None:
            if res.status == "timeout":
                # The task ignored its per-test deadlines until the sandbox killed it:
                # rerunning its tests would only pay that again.
                self.timed_out = True
                for i in idx:
                    self.outcome[i] = (False, "timed out (the task's deadline)", None)
            elif job.kind == "script":
                self.outcome[idx[0]] = (False, f"the test script {res.status}: {res.reason}",
                                        None)
            else:
                self.retry.extend(idx)
            return
        if value.get("status") in ("load_error", "missing"):
            self.load_problem = self.load_problem or str(value.get("reason"))
            for i in idx:
                self.outcome[i] = (False, str(value.get("reason")), None)
            return
        if job.kind == "script":
            self.outcome[idx[0]] = _replay_script(self.sb, self.cases[idx[0]].script or "",
                                                  self.code, value,
                                                  self.limits(job.deadline_s))
            return
        results = value.get("results")
        if not isinstance(results, list) or len(results) != len(idx):
            self.retry.extend(idx)
            return
        for i, raw in zip(idx, results, strict=True):
            try:
                if raw[0] in ("timeout", "skipped"):
                    self.timed_out = True
                judge = judge_call if job.kind == "call" else judge_io
                self.outcome[i] = judge(self.cases[i], raw)
            except (IndexError, TypeError, ValueError):
                self.outcome[i] = (False, "malformed result", None)

    def rerun_alone(self) -> None:
        """A task that died took every result with it: rerun those tests one per task."""
        for n, i in enumerate(sorted(self.retry)):
            if self.timed_out:
                self.outcome[i] = (False, SKIPPED, None)
                continue
            if n >= self.max_fallback_tests or \
                    time.monotonic() - self.t0 > self.total_timeout_s:
                self.outcome[i] = (False, "not run: an earlier test crashed the process", None)
                continue
            self.outcome[i] = self._alone(self.cases[i])

    def _alone(self, c: TestCase) -> Outcome:
        payload: dict[str, Any]
        if c.kind == "call":
            budget = _budget(c)
            payload = {"code": self.code, "fn_name": c.fn_name, "timeout_s": self.timeout_s,
                       "cases": [[c.args, c.kwargs]], "budgets": [budget]}
            job = _Job("call", [], "run_call_tests", payload, self.timeout_s + 1,
                       (budget[0] + _RECORD_SLACK, budget[1] + 72))
            res = self.sb.call(f"{_CHILD}:run_call_tests", payload,
                               limits=self.limits(job.deadline_s, job))
            value = res.value if res.ok and isinstance(res.value, dict) else None
            if value and value.get("status") == "ok" and len(value.get("results", [])) == 1:
                self.timed_out = value["results"][0][:1] == ["timeout"]
                return judge_call(c, value["results"][0])
            self.timed_out = res.status == "timeout"
            return False, f"the process {res.status}: {res.reason}", None
        cap = _stdout_cap(c)
        payload = {"code": self.code, "timeout_s": self.timeout_s, "stdins": [c.stdin or ""],
                   "max_stdout": [cap]}
        job = _Job("io", [], "run_io_tests", payload, self.timeout_s + 1,
                   (6 * cap + _RECORD_SLACK, 72))
        res = self.sb.call(f"{_CHILD}:run_io_tests", payload,
                           limits=self.limits(job.deadline_s, job))
        value = res.value if res.ok and isinstance(res.value, dict) else None
        first: Any = value.get("results", [None])[0] if value else None
        ok = isinstance(first, list) and bool(first) and first[0] == "ok" and \
            stdout_matches(str(first[-1]), c.expected_stdout)
        self.timed_out = res.status == "timeout" or (isinstance(first, list) and
                                                     first[:1] == ["timeout"])
        return ok, "wrong output" if first else f"the process {res.status}", None


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


def test_limits(limits: Limits | None, timeout_s: float | None = None,
                memory_mb: int | None = None, *, caller: str = "run_tests") -> Limits:
    """The limits of each test: ``limits``, or the deprecated ``timeout_s``/``memory_mb``.

    Example:
        >>> test_limits(None).timeout_s, test_limits(None).memory_mb
        (1.0, 512)
    """
    if timeout_s is None and memory_mb is None:
        return DEFAULT_TEST_LIMITS if limits is None else limits
    if limits is not None:
        raise TypeError(f"{caller}() takes limits= or the older timeout_s=/memory_mb=, not both")
    given = [name for name, value in (("timeout_s", timeout_s), ("memory_mb", memory_mb))
             if value is not None]
    warn_renamed(f"{caller}({', '.join(n + '=' for n in given)})",
                 f"{caller}(limits=Limits({', '.join(n + '=...' for n in given)}))",
                 stacklevel=4)
    return Limits(timeout_s=DEFAULT_TEST_LIMITS.timeout_s if timeout_s is None else timeout_s,
                  memory_mb=DEFAULT_TEST_LIMITS.memory_mb if memory_mb is None else memory_mb)


def run_tests(code: str, tests: Sequence[TestCase] | str, *, entry_point: str | None = None,
              sandbox: Sandbox | None = None, limits: Limits | None = None,
              total_timeout_s: float = 30.0, max_fallback_tests: int = MAX_FALLBACK_TESTS,
              timeout_s: float | None = None, memory_mb: int | None = None) -> TestReport:
    """Run ``code`` against ``tests`` in the sandbox and report what passed.

    ``tests`` is a list of :class:`TestCase` or a string of assertion-style test code (then
    ``entry_point`` names the function, or :func:`infer_entry_point` finds it; see
    :func:`tests_from_assertions`). ``limits`` apply to each test, as ``trace`` and ``score``
    take them: ``limits.timeout_s`` per test (default 1 s), ``limits.memory_mb`` per task
    (default 512). Call tests of one function run in one task, each with its own deadline; if
    that task dies (a crash, an early ``os._exit``, ``total_timeout_s``), the first
    ``max_fallback_tests`` run one per task and the rest fail. Expected values stay in the
    trainer: the task only reports values. ``timeout_s=`` and ``memory_mb=`` are the older
    spelling of ``limits`` (deprecated).

    Never raises for any code: assertion-style tests whose entry point the code leaves
    ambiguous, or anything else that keeps the tests from running, is a ``load_error`` report
    with no tests and the reason.

    Example:
        >>> run_tests("def add(a, b):\\n    return a + b", [TestCase.call("add", (1, 2), 3)]).passed
        1
    """
    t0 = time.monotonic()
    per_test = test_limits(limits, timeout_s, memory_mb)
    try:
        return _run_tests(code, tests, entry_point, sandbox, per_test, total_timeout_s,
                          max_fallback_tests, t0)
    except Exception as exc:  # MemoryError and RecursionError too: never into the trainer
        reason = str(exc) if isinstance(exc, ValueError) and "entry point" in str(exc) else (
            f"could not run the tests: {type(exc).__name__}")
        return TestReport(status="load_error", reason=reason,
                          duration_s=time.monotonic() - t0)


def _run_tests(code: str, tests: Sequence[TestCase] | str, entry_point: str | None,
               sandbox: Sandbox | None, per_test: Limits, total_timeout_s: float,
               max_fallback_tests: int, t0: float) -> TestReport:
    from stepreward.trace._api import default_sandbox

    if isinstance(tests, str):
        if not entry_point:
            # A solution that does not parse fails every test anyway (load_error); any name
            # does for building them.
            try:
                entry_point = infer_entry_point(tests, code if isinstance(code, str) else None)
            except ValueError:
                if isinstance(code, str) and _parses(code):
                    raise
                entry_point = "candidate"
        tests = tests_from_assertions(tests, entry_point)
    cases = list(tests)
    if not isinstance(code, str) or not code.strip():
        return TestReport(total=len(cases), status="unparsed", reason="no code")
    if not cases:
        return TestReport(status="no_tests", reason="no tests")
    dispatch = _Dispatch(sandbox or default_sandbox(), code, cases, limits=per_test,
                         total_timeout_s=total_timeout_s, max_fallback_tests=max_fallback_tests,
                         t0=t0)
    dispatch.run(_plan(code, cases, per_test.timeout_s))
    return report(dispatch.outcome, dispatch.load_problem, t0)


test_limits.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
