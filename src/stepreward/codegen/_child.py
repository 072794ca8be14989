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
import types
from typing import Any

from stepreward import values as V

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


def _alarm(signum: int, frame: object) -> None:
    if _armed:
        raise _TestTimeout


def _load_within(code: str, timeout: float) -> tuple[dict[str, Any] | None, str | None]:
    try:
        loaded: tuple[dict[str, Any] | None, str | None] = _with_deadline(
            max(timeout, 0.5), _load, code)
    except _TestTimeout:
        return None, "loading the code timed out"
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
    global _armed
    signal.signal(signal.SIGALRM, _alarm)
    _armed = True
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.02)
    try:
        return fn(*args, **kwargs)
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def run_call_tests(payload: dict[str, Any]) -> dict[str, Any]:
    """Call ``fn_name`` on each case's arguments; report each value as a literal."""
    timeout = float(payload.get("timeout_s", 1.0))
    namespace, problem = _load_within(payload["code"], timeout)
    if namespace is None:
        return {"status": "load_error", "reason": problem}
    fn = namespace.get(payload["fn_name"])
    if not callable(fn):
        return {"status": "missing", "reason": f"no function named {payload['fn_name']!r}"}
    results: list[list[Any]] = []
    for args_lit, kwargs_lit in payload["cases"]:
        if results and results[-1][0] in ("timeout", "skipped"):
            # Fail fast: after one test has timed out, the rest of the completion's tests
            # are not run (a looping completion costs one timeout, not tests x timeout).
            results.append(["skipped"])
            continue
        try:
            args = V.from_literal(args_lit)
            kwargs = V.from_literal(kwargs_lit) if kwargs_lit is not None else {}
        except ValueError as exc:
            results.append(["error", "BadTestInput", _short(exc)])
            continue
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
        lit = V.to_literal(_plain(out), max_items=2_000_000, max_depth=200)
        if lit is V.NOT_LITERAL:
            # Truthiness is trusted only for types whose __bool__ user code cannot change.
            truth = bool(out) if type(out) in _TRUSTED_TRUTH else None
            results.append(["nonliteral", V.type_name(out), truth])
        else:
            results.append(["ok", lit])
    return {"status": "ok", "results": results}


def run_io_tests(payload: dict[str, Any]) -> dict[str, Any]:
    """Run the program once per stdin text; report what it printed."""
    timeout = float(payload.get("timeout_s", 1.0))
    try:
        code = compile(payload["code"], "<solution>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return {"status": "load_error", "reason": f"{type(exc).__name__}: {_short(exc)}"}
    results: list[list[Any]] = []
    real_stdin, real_stdout = sys.stdin, sys.stdout
    for text in payload["stdins"]:
        if results and results[-1][0] in ("timeout", "skipped"):
            results.append(["skipped", ""])  # fail fast, as for call tests
            continue
        out = io.StringIO()
        sys.stdin, sys.stdout = io.StringIO(text), out
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        status: list[Any]
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
        status.append(out.getvalue()[:MAX_STDOUT])
        results.append(status)
    return {"status": "ok", "results": results}


def run_script(payload: dict[str, Any]) -> dict[str, Any]:
    """Run the code followed by a test script as one program (assertions that could not be
    turned into call tests); pass means it ran to the end."""
    namespace, problem = _load(payload["code"] + "\n\n" + payload["script"])
    if namespace is None:
        return {"status": "ok", "passed": False, "reason": problem}
    return {"status": "ok", "passed": True, "reason": None}
