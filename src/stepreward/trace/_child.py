"""Runs inside a sandbox task: executes a call under a tracer and returns a compact JSON trace.

Standard library only (plus :mod:`stepreward.values`): it is imported by the sandbox template.

Wire format returned by :func:`run_trace` (decoded by :mod:`stepreward.trace._api`)::

    {"v": 1, "status": "ok" | "exception" | "error", "phase": "source" | "call" | None,
     "truncated": bool, "truncated_reason": str | None,
     "values": [[type_name, repr, literal_json | None, repr_truncated], ...],
     "frames": [[func, depth, {name: value_index}], ...],   # one per activation, entry locals
     "steps": [[line, frame_index, {name: value_index or -1 (deleted)}], ...],
     "result": value_index | None, "exception": {type, message, line} | None}

A step's delta holds the locals of its frame that changed from the frame's previous state;
it is filled in at the next event of the same frame (the next statement or the return).
"""

from __future__ import annotations

import ast
import re
import reprlib
import sys
import types
from collections.abc import Callable
from typing import Any

from stepreward import values as V

SOURCE_FILE = "<source>"
CALL_FILE = "<call>"
SYNTHETIC = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>", "<lambda>"})
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR
# Immutable types: an unchanged id means an unchanged value, so the encoding can be reused.
_IMMUTABLE = frozenset({int, float, str, bool, type(None), bytes, complex, range})
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def statement_lines(tree: ast.AST) -> dict[int, int]:
    """Map every source line to the first line of the innermost statement that contains it."""
    spans: list[tuple[int, int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.stmt, ast.ExceptHandler)):
            end = getattr(node, "end_lineno", None) or node.lineno
            spans.append((node.lineno, end, -(end - node.lineno)))
    mapping: dict[int, int] = {}
    # Widest first, so inner statements overwrite the lines of their enclosing ones.
    for start, end, _ in sorted(spans, key=lambda s: s[2]):
        for line in range(start, end + 1):
            mapping[line] = start
    return mapping


class _Frame:
    __slots__ = ("index", "last", "step", "stmt")

    def __init__(self, index: int, last: dict[str, int]) -> None:
        self.index = index
        self.last = last  # name -> value index, the frame's state as last recorded
        self.stmt = -1  # first line of the statement being executed
        self.step = -1  # index of that statement's step


class Recorder:
    def __init__(self, stmt_of: dict[int, int], max_steps: int, repr_limit: int,
                 max_literal_items: int) -> None:
        self.stmt_of = stmt_of
        self.max_steps = max_steps
        self.repr_limit = repr_limit
        self.max_literal_items = max_literal_items
        self.values: list[list[Any]] = []
        self.value_index: dict[tuple[str, str, str | None, bool], int] = {}
        self.by_id: dict[int, tuple[object, int]] = {}
        self.frames: list[list[Any]] = []
        self.steps: list[list[Any]] = []
        self.states: dict[types.FrameType, _Frame] = {}
        self.truncated_reason: str | None = None
        self.on_truncate: Callable[[], None] = lambda: None
        self.short_repr = reprlib.Repr()
        self.short_repr.maxstring = repr_limit
        self.short_repr.maxother = repr_limit
        self.short_repr.maxlevel = 4
        for attr in ("maxlist", "maxtuple", "maxset", "maxfrozenset", "maxdict", "maxdeque",
                     "maxarray"):
            setattr(self.short_repr, attr, repr_limit // 2)

    # ---------------------------------------------------------------- values

    def encode(self, obj: object) -> int:
        cls = type(obj)
        if cls in _IMMUTABLE:
            hit = self.by_id.get(id(obj))
            if hit is not None and hit[0] is obj:
                return hit[1]
        text, cut = self._repr(obj)
        lit = V.to_literal(obj, max_items=self.max_literal_items)
        lit_text = None if lit is V.NOT_LITERAL else V.dumps_literal(lit)
        key = (V.type_name(obj), text, lit_text, cut)
        index = self.value_index.get(key)
        if index is None:
            index = len(self.values)
            self.value_index[key] = index
            self.values.append([key[0], text, lit_text, cut])
        if cls in _IMMUTABLE:
            self.by_id[id(obj)] = (obj, index)  # keeps obj alive, so the id is not reused
        return index

    def _repr(self, obj: object) -> tuple[str, bool]:
        text, cut = self._raw_repr(obj)
        if " at 0x" in text:
            # Addresses differ between runs and interpreters; keep traces byte-stable.
            text = _ADDRESS.sub(" at 0x...", text)
        return text, cut

    def _raw_repr(self, obj: object) -> tuple[str, bool]:
        limit = self.repr_limit
        try:
            if isinstance(obj, (list, tuple, set, frozenset, dict)) and len(obj) > limit:
                # Certainly longer than the limit: avoid building a huge repr.
                return self.short_repr.repr(obj)[:limit], True
            if type(obj) is str and len(obj) > limit:
                return repr(obj[: limit + 1])[:limit], True
        except Exception:
            pass
        return V.safe_repr(obj, limit)

    def snapshot(self, frame: types.FrameType, last: dict[str, int]) -> dict[str, int]:
        """Encode the frame's locals; return the changes against ``last`` (updated in place)."""
        delta: dict[str, int] = {}
        current = frame.f_locals
        for name, obj in current.items():
            index = self.encode(obj)
            if last.get(name) != index:
                delta[name] = index
                last[name] = index
        if len(last) > len(current):
            for name in [n for n in last if n not in current]:
                delta[name] = -1
                del last[name]
        return delta

    # ---------------------------------------------------------------- tracing

    def global_trace(self, frame: types.FrameType, event: str, arg: object) -> Any:
        code = frame.f_code
        if code.co_filename != SOURCE_FILE or code.co_name in SYNTHETIC:
            return None
        if frame not in self.states:
            parent = frame.f_back
            depth = 0
            while parent is not None:
                st = self.states.get(parent)
                if st is not None:
                    depth = self.frames[st.index][1] + 1
                    break
                parent = parent.f_back
            last: dict[str, int] = {}
            entry = self.snapshot(frame, last)
            self.states[frame] = _Frame(len(self.frames), last)
            self.frames.append([code.co_name, depth, entry])
        return self.local_trace

    def local_trace(self, frame: types.FrameType, event: str, arg: object) -> Any:
        if event == "line":
            st = self.states.get(frame)
            if st is None:
                return self.local_trace
            stmt = self.stmt_of.get(frame.f_lineno, frame.f_lineno)
            if stmt == st.stmt:
                return self.local_trace  # a continuation or backward jump within the statement
            if st.step >= 0:
                self.steps[st.step][2] = self.snapshot(frame, st.last)
            if len(self.steps) >= self.max_steps:
                self.truncated_reason = f"more than {self.max_steps} steps"
                # End the task from here: an exception could be swallowed by the program.
                self.on_truncate()
            st.stmt = stmt
            st.step = len(self.steps)
            self.steps.append([stmt, st.index, {}])
        elif event == "return":
            st = self.states.get(frame)
            if st is None:
                return None
            if st.step >= 0:
                self.steps[st.step][2] = self.snapshot(frame, st.last)
            if frame.f_code.co_flags & _GENERATOR_FLAGS:
                st.step = -1  # suspended: the statement resumes without a new line event
            else:
                del self.states[frame]
        return self.local_trace


def _exception_info(exc: BaseException) -> dict[str, Any]:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SOURCE_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename == SOURCE_FILE:
        line = exc.lineno
    return {"type": type(exc).__name__, "message": _safe_str(exc), "line": line}


def _safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__}>"
    return text if len(text) <= 500 else text[:500] + "..."


def _compile_call(call: str) -> tuple[types.CodeType, bool]:
    """Compile the driver: an expression, or statements whose last expression is the result."""
    tree = ast.parse(call, CALL_FILE, "exec")
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        expr = ast.Expression(tree.body[0].value)
        return compile(expr, CALL_FILE, "eval", dont_inherit=True), True
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        target = ast.Name("__stepreward_result__", ast.Store())
        tree.body[-1] = ast.copy_location(ast.Assign([target], last.value), last)
        ast.fix_missing_locations(tree)
    return compile(tree, CALL_FILE, "exec", dont_inherit=True), False


def run_trace(payload: dict[str, Any]) -> dict[str, Any]:
    """Sandbox entry point: trace ``payload["call"]`` over ``payload["source"]``."""
    from stepreward.sandbox._task import report_and_exit

    source: str = payload["source"]
    call: str = payload["call"]
    out: dict[str, Any] = {"v": 1, "python": sys.version.split()[0], "status": "ok",
                           "phase": None, "truncated": False,
                           "truncated_reason": None, "values": [], "frames": [], "steps": [],
                           "result": None, "exception": None}
    try:
        tree = ast.parse(source, SOURCE_FILE, "exec")
        code = compile(tree, SOURCE_FILE, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        out.update(status="error", phase="source", exception=_exception_info(exc))
        return out
    try:
        call_code, is_expr = _compile_call(call)
    except (SyntaxError, ValueError) as exc:
        out.update(status="error", phase="call", exception=_exception_info(exc))
        return out
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    namespace = main.__dict__
    try:
        exec(code, namespace)
    except BaseException as exc:
        out.update(status="error", phase="source", exception=_exception_info(exc))
        return out
    rec = Recorder(statement_lines(tree), int(payload.get("max_steps", 10_000)),
                   int(payload.get("repr_limit", 200)),
                   int(payload.get("max_literal_items", 1000)))

    def finish(result: Any, exc: BaseException | None) -> dict[str, Any]:
        sys.settrace(None)
        if exc is not None:
            out["status"] = "exception"
            out["exception"] = _exception_info(exc)
        elif result is not _NO_RESULT:
            out["result"] = rec.encode(result)
        out["values"] = rec.values
        out["frames"] = rec.frames
        out["steps"] = rec.steps
        out["truncated"] = rec.truncated_reason is not None
        out["truncated_reason"] = rec.truncated_reason
        return out

    result: Any = _NO_RESULT
    rec.on_truncate = lambda: report_and_exit(finish(_NO_RESULT, None))
    sys.settrace(rec.global_trace)
    try:
        if is_expr:
            result = eval(call_code, namespace)
        else:
            exec(call_code, namespace)
            result = namespace.pop("__stepreward_result__", _NO_RESULT)
    except BaseException as exc:
        tracer = sys.gettrace()
        res = finish(_NO_RESULT, exc)
        if tracer is None or getattr(tracer, "__self__", None) is not rec:
            res["truncated"] = True
            res["truncated_reason"] = "tracing was switched off during the run"
        return res
    tracer = sys.gettrace()
    res = finish(result, None)
    if tracer is None or getattr(tracer, "__self__", None) is not rec:
        # The program (or a RecursionError inside the tracer) switched tracing off.
        res["truncated"] = True
        res["truncated_reason"] = "tracing was switched off during the run"
    return res


_NO_RESULT = object()


def eval_call(payload: dict[str, Any]) -> dict[str, Any]:
    """Sandbox entry point: run ``call`` over ``source`` untraced; return its value encoded."""
    try:
        tree = ast.parse(payload["source"], SOURCE_FILE, "exec")
        code = compile(tree, SOURCE_FILE, "exec", dont_inherit=True)
        call_code, is_expr = _compile_call(payload["call"])
    except (SyntaxError, ValueError) as exc:
        return {"status": "error", "exception": _exception_info(exc)}
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
        if is_expr:
            result = eval(call_code, main.__dict__)
        else:
            exec(call_code, main.__dict__)
            result = main.__dict__.get("__stepreward_result__")
    except BaseException as exc:
        return {"status": "exception", "exception": _exception_info(exc)}
    rec = Recorder({}, 1, int(payload.get("repr_limit", 200)), 1000)
    index = rec.encode(result)
    return {"status": "ok", "value": rec.values[index]}
