"""Runs inside a sandbox task: executes model code on test inputs, returns plain values.

Standard library only. Expected outputs never come here: the task reports what the code
returned (as canonical literals) or printed, and the trainer decides pass or fail.
"""

from __future__ import annotations

import collections
import io
import re
import signal
import sys
import time
import types
from typing import Any

from stepreward import values as V
from stepreward.sandbox._task import report_progress

MAX_STDOUT = 1 << 20


_TRUSTED_TRUTH = (re.Match, type(None))
# Standard-library containers that compare like the plain type (exact types only: a user
# subclass could redefine __eq__).
_AS_DICT = (collections.Counter, collections.OrderedDict, collections.defaultdict)


def _plain(value: Any, depth: int = 0) -> Any:
    if depth > 50:
        return value
    t = type(value)
    if t in _AS_DICT:
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    if t is collections.deque:
        return [_plain(v, depth + 1) for v in value]
    if t is list:
        return [_plain(v, depth + 1) for v in value]
    if t is tuple:
        return tuple(_plain(v, depth + 1) for v in value)
    if t is dict:
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    return value


class _TestTimeout(BaseException):
    pass


_armed = False
_hard_deadline = float("inf")
# Set while call tests run: ends the task with the results so far if a test keeps running
# half a timeout past its deadline (it swallowed every _TestTimeout).
_give_up: Any = None


def _alarm(signum: int, frame: object) -> None:
    if not _armed:
        return
    if _give_up is not None and time.monotonic() > _hard_deadline:
        _give_up()
    raise _TestTimeout


def _load_within(code: str, timeout: float) -> tuple[dict[str, Any] | None, str | None]:
    global _give_up

    def give_up() -> None:
        from stepreward.sandbox._task import report_and_exit

        report_and_exit({"status": "load_error", "reason": "loading the code timed out"})

    _give_up = give_up
    report_progress()
    try:
        loaded: tuple[dict[str, Any] | None, str | None] = _with_deadline(
            max(timeout, 0.5), _load, code)
    except _TestTimeout:
        return None, "loading the code timed out"
    finally:
        _give_up = None
    return loaded


def _load(code: str) -> tuple[dict[str, Any] | None, str | None]:
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    try:
        exec(compile(code, "<solution>", "exec", dont_inherit=True), main.__dict__)
    except SystemExit:
        return None, "the code calls exit() while loading"
    except _TestTimeout:
        return None, "loading the code timed out"
    except BaseException as exc:
        return None, f"{type(exc).__name__}: {_short(exc)}"
    return main.__dict__, None


def _short(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        return "<unprintable>"
    return text[:300]


def _with_deadline(seconds: float, fn: Any, *args: Any, **kwargs: Any) -> Any:
    # The task is single-threaded and this is its main thread: an interval timer is the
    # per-test deadline here; the sandbox's own deadline (a kill) bounds everything. The
    # timer repeats every 20 ms after the deadline, so code that swallows the first
    # _TestTimeout (``except BaseException: while True: ...``) gets another one; the flag
    # keeps a signal already in flight from raising after the deadline is cleared.
    global _armed, _hard_deadline
    signal.signal(signal.SIGALRM, _alarm)
    _hard_deadline = time.monotonic() + 1.5 * max(seconds, 0.001)
    _armed = True
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.02)
    try:
        return fn(*args, **kwargs)
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def _resolve(namespace: dict[str, Any], name: str) -> Any:
    """``f``, or ``Class.method`` called on a fresh instance per call (LeetCode-style tasks
    such as LiveCodeBench's ``Solution().twoSum``)."""
    cls_name, dot, method = name.partition(".")
    if not dot:
        return namespace.get(name)
    cls = namespace.get(cls_name)
    if not isinstance(cls, type) or not callable(getattr(cls, method, None)):
        return None

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(cls(), method)(*args, **kwargs)

    return call


def _report_value(out: Any, budget: Any) -> list[Any]:
    """One test's result: ``["ok", literal]``, or ``["big", type, truth]`` for a value over
    the test's ``[bytes, items]`` budget (far larger than the expected value, so wrong: the
    trainer need not read it), or ``["nonliteral", type, truth]``."""
    max_bytes, max_items = (int(budget[0]), int(budget[1])) if budget else (0, 2_000_000)
    # Counted before anything is copied or encoded: the cost stays within the budget.
    if _size(out, max_items) > max_items and _plain_truth(out) is not None:
        return ["big", V.type_name(out), _plain_truth(out)]
    lit = V.to_literal(_plain(out), max_items=max_items, max_depth=200)
    if lit is V.NOT_LITERAL:
        # Truthiness is trusted only for types whose __bool__ user code cannot change.
        truth = bool(out) if type(out) in _TRUSTED_TRUTH else None
        return ["nonliteral", V.type_name(out), truth]
    if max_bytes and len(_dumps(lit)) > max_bytes:
        return ["big", V.type_name(out), _plain_truth(out)]
    return ["ok", lit]


_CONTAINERS = (list, tuple, set, frozenset, dict, collections.deque, *_AS_DICT)
_PLAIN_TRUTH = frozenset({*_CONTAINERS, str, bytes, int, float, complex, bool, type(None)})


def _size(value: Any, limit: int) -> int:
    """Items of the plain containers in ``value``, as to_literal counts them; stops past
    ``limit``. Other objects are not looked into."""
    stack, seen = [value], 0
    while stack and seen <= limit:
        item = stack.pop()
        t = type(item)
        if t in (list, tuple, set, frozenset) or t is collections.deque:
            seen += len(item)
            stack.extend(item)
        elif t is dict or t in _AS_DICT:
            seen += len(item)
            stack.extend(item.values())
    return seen


def _plain_truth(value: Any) -> bool | None:
    """The truth of a value of a built-in type (whose __bool__ nobody overrides), else None."""
    return bool(value) if type(value) in _PLAIN_TRUTH else None


def _dumps(lit: Any) -> str:
    import json

    return json.dumps(lit, separators=(",", ":"))


def run_call_tests(payload: dict[str, Any]) -> dict[str, Any]:
    """Call ``fn_name`` on each case's arguments; report each value as a literal (within the
    case's ``budgets`` entry, ``[bytes, items]``, when the trainer sends budgets)."""
    timeout = float(payload.get("timeout_s", 1.0))
    namespace, problem = _load_within(payload["code"], timeout)
    if namespace is None:
        return {"status": "load_error", "reason": problem}
    fn = _resolve(namespace, str(payload["fn_name"]))
    if not callable(fn):
        return {"status": "missing", "reason": f"no function named {payload['fn_name']!r}"}
    global _give_up
    results: list[list[Any]] = []
    cases = payload["cases"]

    def give_up() -> None:
        from stepreward.sandbox._task import report_and_exit

        done = [*results, ["timeout"]]
        report_and_exit({"status": "ok",
                         "results": done + [["skipped"]] * (len(cases) - len(done))})

    _give_up = give_up
    budgets = payload.get("budgets") or [None] * len(cases)
    for (args_lit, kwargs_lit), budget in zip(cases, budgets, strict=False):
        if results and results[-1][0] in ("timeout", "skipped"):
            # Fail fast: after one test has timed out, the rest of the completion's tests
            # are not run (a looping completion costs one timeout, not tests x timeout).
            results.append(["skipped"])
            continue
        try:
            # numpy arguments become real arrays here (numpy is pre-loaded where they occur).
            args = V.realize_numpy(V.from_literal(args_lit))
            kwargs = V.realize_numpy(V.from_literal(kwargs_lit)) if kwargs_lit is not None else {}
        except ValueError as exc:
            results.append(["error", "BadTestInput", _short(exc)])
            continue
        report_progress()
        try:
            out = _with_deadline(timeout, fn, *args, **kwargs)
        except _TestTimeout:
            results.append(["timeout"])
            continue
        except SystemExit:
            results.append(["error", "SystemExit", "the code called exit()"])
            continue
        except BaseException as exc:
            results.append(["error", type(exc).__name__, _short(exc)])
            continue
        report_progress()  # the value's report gets a window of its own
        results.append(_report_value(out, budget))
    _give_up = None
    return {"status": "ok", "results": results}


def run_io_tests(payload: dict[str, Any]) -> dict[str, Any]:
    """Run the program once per stdin text; report what it printed."""
    timeout = float(payload.get("timeout_s", 1.0))
    try:
        code = compile(payload["code"], "<solution>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return {"status": "load_error", "reason": f"{type(exc).__name__}: {_short(exc)}"}
    global _give_up
    results: list[list[Any]] = []
    real_stdin, real_stdout = sys.stdin, sys.stdout
    stdins = payload["stdins"]
    caps = payload.get("max_stdout") or [MAX_STDOUT] * len(stdins)

    def give_up() -> None:
        from stepreward.sandbox._task import report_and_exit

        sys.stdin, sys.stdout = real_stdin, real_stdout
        done = [*results, ["timeout", ""]]
        report_and_exit({"status": "ok",
                         "results": done + [["skipped", ""]] * (len(stdins) - len(done))})

    _give_up = give_up
    for text, cap in zip(stdins, caps, strict=False):
        if results and results[-1][0] in ("timeout", "skipped"):
            results.append(["skipped", ""])  # fail fast, as for call tests
            continue
        out = io.StringIO()
        sys.stdin, sys.stdout = io.StringIO(text), out
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        status: list[Any]
        report_progress()
        try:
            _with_deadline(timeout, exec, code, main.__dict__)
            status = ["ok"]
        except SystemExit as exc:
            status = ["ok"] if exc.code in (None, 0) else ["error", "SystemExit", str(exc.code)]
        except _TestTimeout:
            status = ["timeout"]
        except BaseException as exc:
            status = ["error", type(exc).__name__, _short(exc)]
        finally:
            sys.stdin, sys.stdout = real_stdin, real_stdout
        status.append(out.getvalue()[:min(int(cap), MAX_STDOUT)])
        results.append(status)
    _give_up = None
    return {"status": "ok", "results": results}


class _NotReplayable(Exception):
    pass


class _ReplayMiss(BaseException):
    pass


def _free_names(script: Any) -> list[str]:
    """Names the script reads but does not bind at top level: what the solution provides."""
    import ast
    import builtins

    bound: set[str] = set()
    for node in script.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            bound.update(n.id for n in ast.walk(node)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    loaded = {n.id for n in ast.walk(script) if isinstance(n, ast.Name)}
    return sorted(loaded - bound - set(dir(builtins)))


def _recorder(name: str, fn: Any, records: list[list[Any]]) -> Any:
    import random

    def call(*args: Any, **kwargs: Any) -> Any:
        args_lit, kwargs_lit = V.to_literal(args), V.to_literal(kwargs)
        if V.NOT_LITERAL in (args_lit, kwargs_lit):
            raise _NotReplayable(f"{name} was called with arguments that are not plain values")
        state = random.getstate()
        try:
            # Fresh copies: the test's own objects are not the solution's to change.
            out = fn(*V.realize_numpy(V.from_literal(args_lit)),
                     **V.realize_numpy(V.from_literal(kwargs_lit)))
        except _NotReplayable:
            raise
        except BaseException as exc:
            records.append([name, args_lit, kwargs_lit, "raise", type(exc).__name__])
            raise
        finally:
            random.setstate(state)  # the test's random inputs must not depend on the code
        lit = V.to_literal(_plain(out), max_items=2_000_000, max_depth=200)
        if lit is V.NOT_LITERAL:
            raise _NotReplayable(f"{name} returned a {V.type_name(out)}, not a plain value")
        records.append([name, args_lit, kwargs_lit, "return", lit])
        # The test compares a plain copy: no object of the solution's reaches it.
        return V.realize_numpy(V.from_literal(lit))

    return call


def run_script_record(payload: dict[str, Any]) -> dict[str, Any]:
    """Run the code and the test script, recording every call the script makes into the
    code (arguments and returned value as literals) and the plain values it reads.

    This task's own verdict is not trusted (the code could forge it); the trainer replays
    the records in :func:`run_script_replay`, a task without the code."""
    import ast
    import random

    namespace, problem = _load_within(payload["code"], float(payload.get("timeout_s", 1.0)))
    if namespace is None:
        return {"status": "load_error", "reason": problem}
    try:
        tree = ast.parse(payload["script"])
        program = compile(tree, "<test>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return {"status": "ok", "passed": False, "reason": f"the test script: {_short(exc)}"}
    records: list[list[Any]] = []
    values: dict[str, Any] = {}
    modules: dict[str, str] = {}
    functions: list[str] = []
    # The trainer names what the original script reads (the script here may have lost its
    # expected sides); without a list, what this script reads.
    names = payload.get("names")
    for name in (sorted(str(n) for n in names) if isinstance(names, list)
                 else _free_names(tree)):
        if name not in namespace:
            continue
        v = namespace[name]
        if isinstance(v, types.ModuleType):
            modules[name] = v.__name__
        elif isinstance(v, (types.FunctionType, types.BuiltinFunctionType)):
            namespace[name] = _recorder(name, v, records)
            functions.append(name)
        else:
            lit = V.to_literal(_plain(v))
            if lit is not V.NOT_LITERAL:
                values[name] = lit
    random.seed(0)
    try:
        exec(program, namespace)
        passed, reason = True, None
    except _NotReplayable as exc:
        passed, reason = False, f"not gradeable: {exc}"
    except SystemExit:
        passed, reason = False, "the code called exit()"
    except BaseException as exc:
        passed, reason = False, f"{type(exc).__name__}: {_short(exc)}"
    return {"status": "ok", "passed": passed, "reason": reason, "records": records,
            "values": values, "modules": modules, "functions": functions}


def run_script_replay(payload: dict[str, Any]) -> dict[str, Any]:
    """Run the test script without the code: each call into the code returns (or raises)
    what :func:`run_script_record` recorded for the same arguments. Only plain values
    cross over, so an always-equal object or a forged report cannot pass a test here."""
    import builtins
    import importlib
    import random

    pending: dict[str, list[list[Any]]] = {}
    for rec in payload["records"]:
        pending.setdefault(str(rec[0]), []).append(rec)

    def stub(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            key = [V.to_literal(args), V.to_literal(kwargs)]
            queue = pending.get(name, [])
            for n, rec in enumerate(queue):
                if [rec[1], rec[2]] == key:
                    del queue[n]
                    if rec[3] == "return":
                        return V.realize_numpy(V.from_literal(rec[4]))
                    exc_type = getattr(builtins, str(rec[4]), None)
                    if isinstance(exc_type, type) and issubclass(exc_type, Exception):
                        raise exc_type("replayed")
                    raise RuntimeError(f"replayed {rec[4]}")
            raise _ReplayMiss
        return call

    # The trainer names the functions to stub (what the script calls and the completion
    # defines, read statically); records of any other name are ignored, and a builtin is
    # never stubbed, whatever the recording task reported.
    builtin_names = set(dir(builtins))
    stubbed = [str(n) for n in payload["functions"] if str(n) not in builtin_names]
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        for name, module in payload["modules"].items():
            if str(name) not in builtin_names:
                namespace[name] = importlib.import_module(str(module))
        for name, lit in payload["values"].items():
            if str(name) not in builtin_names and str(name) not in stubbed:
                namespace[name] = V.realize_numpy(V.from_literal(lit))
    except (ImportError, ValueError) as exc:
        return {"status": "ok", "passed": False, "reason": f"not gradeable: {_short(exc)}"}
    for name in stubbed:
        namespace[name] = stub(name)
    random.seed(0)
    try:
        exec(compile(payload["script"], "<test>", "exec", dont_inherit=True), namespace)
    except _ReplayMiss:
        return {"status": "ok", "passed": False,
                "reason": "not gradeable: the test's calls differ from the recorded ones"}
    except BaseException as exc:
        return {"status": "ok", "passed": False, "reason": f"{type(exc).__name__}: {_short(exc)}"}
    return {"status": "ok", "passed": True, "reason": None}
