"""Trainer-side tracing API: run a call under the tracer in the sandbox, decode the result."""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from stepreward._jsonlimits import count_values, json_shape
from stepreward.sandbox._pool import Sandbox
from stepreward.types import ExecResult, Limits, Step, Trace, TraceException, Value
from stepreward.values import loads_literal

__all__ = ["default_sandbox", "eval_call", "trace", "trace_many"]

TARGET = "stepreward.trace._child:run_trace"
# Traced programs run 10-30x slower than untraced ones; the defaults leave room for that.
DEFAULT_LIMITS = Limits(timeout_s=5.0, memory_mb=1024, max_result_bytes=256 << 20)

# What a trace record may cost the trainer to decode, in JSON values: the record itself (per
# step, its row and delta; per value, its row), and every value's literal, which the tracer
# cuts at 1,000 items (about 8 JSON values each at most: tags, dict entries).
_STEP_ITEMS = 64
_LITERAL_ITEMS = 8 * 1000 + 64
_TRACE_LITERAL_ITEMS = 2_000_000

_default: Sandbox | None = None
_default_lock = threading.Lock()


def default_sandbox() -> Sandbox:
    """The process-wide sandbox used when no ``sandbox=`` is given (created on first use).

    With ``STEPREWARD_SANDBOX=ray`` in the environment it is a Ray-backed pool on the cluster
    at ``STEPREWARD_RAY_ADDRESS`` (default ``auto``), its actors on nodes that have the custom
    resource named by ``STEPREWARD_RAY_RESOURCE`` when that is set; this routes reward files
    run inside other frameworks' workers (OpenRLHF's) to the cluster without code changes.

    Example:
        >>> default_sandbox().workers >= 1
        True
    """
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = _from_environment()
            atexit.register(_default.close)
        return _default


def _from_environment() -> Sandbox:
    kind = os.environ.get("STEPREWARD_SANDBOX", "local").strip().lower() or "local"
    if kind == "local":
        return Sandbox(limits=DEFAULT_LIMITS)
    if kind != "ray":
        raise ValueError(f"STEPREWARD_SANDBOX must be 'local' or 'ray', got {kind!r}")
    from stepreward.sandbox._ray import RaySandbox

    resource = os.environ.get("STEPREWARD_RAY_RESOURCE")
    # A sliver of the resource marks the node without using it up for other drivers.
    options = {"resources": {resource: 0.001}} if resource else None
    return RaySandbox(limits=DEFAULT_LIMITS, actor_options=options,
                      address=os.environ.get("STEPREWARD_RAY_ADDRESS") or "auto")


def set_default_sandbox(sandbox: Sandbox | None) -> Sandbox | None:
    """Make ``sandbox`` the process-wide default (``None``: create one on next use again).

    Returns the previous default. Used to route every reward in a process through one pool,
    e.g. a Ray-backed one in ``stepreward serve --backend ray``.

    Example:
        >>> with Sandbox(workers=1) as sb:
        ...     old = set_default_sandbox(sb)
        ...     default_sandbox() is sb
        True
        >>> _ = set_default_sandbox(old)
    """
    global _default
    if sandbox is not None and not isinstance(sandbox, Sandbox):
        raise TypeError(f"sandbox must be a stepreward.Sandbox, got {type(sandbox).__name__}")
    with _default_lock:
        previous, _default = _default, sandbox
    return previous


def _payload(source: str, call: str, max_steps: int, repr_limit: int) -> dict[str, Any]:
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    if not isinstance(call, str):
        raise TypeError(f"call must be a str, got {type(call).__name__}")
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    if repr_limit < 8:
        raise ValueError("repr_limit must be at least 8")
    return {"source": source, "call": call, "max_steps": max_steps, "repr_limit": repr_limit}


def trace(source: str, call: str, limits: Limits | None = None, *,
          sandbox: Sandbox | None = None, max_steps: int = 10_000,
          repr_limit: int = 200) -> Trace:
    """Run ``call`` against ``source`` in the sandbox and record every executed statement.

    ``call`` is an expression (``"f([1, 2], 3)"``) or statements that drive the code; only
    lines of ``source`` are recorded, and only while the call runs (module-level setup of
    ``source`` is not traced).  Never raises for a bad program: see ``Trace.status``.

    Example:
        >>> t = trace("def f(x):\\n    y = x * 2\\n    return y", "f(4)")
        >>> [s.line for s in t.steps], t.result.repr
        ([2, 3], '8')
    """
    payload = _payload(source, call, max_steps, repr_limit)
    sb = sandbox or default_sandbox()
    lim = _trace_limits(limits or (DEFAULT_LIMITS if sandbox is None else sb.limits), max_steps)
    return decode_trace(source, call, sb.call(TARGET, payload, limits=lim))


def _trace_limits(limits: Limits, max_steps: int) -> Limits:
    """The record bound of a trace: what ``max_steps`` steps need, unless set explicitly."""
    if "max_result_items" in limits.model_fields_set:
        return limits
    need = min(1 << 30, _STEP_ITEMS * max_steps + (1 << 16))
    return limits.model_copy(update={"max_result_items": need})


def trace_many(items: Iterable[tuple[str, str]], limits: Limits | None = None, *,
               sandbox: Sandbox | None = None, max_steps: int = 10_000,
               repr_limit: int = 200) -> list[Trace]:
    """:func:`trace` over many ``(source, call)`` pairs on all workers, in input order.

    Example:
        >>> ts = trace_many([("def f(a):\\n    return a", "f(1)")] * 2)
        >>> [t.result.repr for t in ts]
        ['1', '1']
    """
    pairs = list(items)
    payloads = [_payload(s, c, max_steps, repr_limit) for s, c in pairs]
    sb = sandbox or default_sandbox()
    lim = _trace_limits(limits or (DEFAULT_LIMITS if sandbox is None else sb.limits), max_steps)
    results = sb.call_many(TARGET, payloads, limits=lim)
    return [decode_trace(s, c, r) for (s, c), r in zip(pairs, results, strict=True)]


class _Budget:
    """JSON values that the literals of one decoded trace may still hold."""

    __slots__ = ("left",)

    def __init__(self, items: int) -> None:
        self.left = items


def _value(row: Sequence[Any], budget: _Budget | None = None) -> Value:
    type_name, text, lit_text, cut = row
    if lit_text is None:
        return Value.model_construct(type_name=type_name, repr=text, literal=None,
                                     is_literal=False, truncated=bool(cut))
    if not isinstance(lit_text, str):
        raise ValueError("a literal that is not text")
    # Counted before decoding: the text comes from the task, which may have forged it.
    cap = _LITERAL_ITEMS if budget is None else min(_LITERAL_ITEMS, budget.left)
    problem = json_shape(lit_text, max_items=cap, max_depth=2 * 100 + 8)
    if problem is not None:
        raise ValueError(f"a value's literal is over the bounds: {problem}")
    if budget is not None:
        budget.left -= count_values(lit_text)
    return Value.model_construct(type_name=type_name, repr=text, literal=loads_literal(lit_text),
                                 is_literal=True, truncated=bool(cut))


def decode_trace(source: str, call: str, result: ExecResult) -> Trace:
    """Turn the sandbox's answer for a trace task into a :class:`Trace`."""
    common: dict[str, Any] = {"source": source, "call": call, "stdout": result.stdout,
                              "duration_s": result.duration_s}
    if result.status != "ok" or not isinstance(result.value, dict):
        status = result.status if result.status != "ok" else "crashed"
        if status == "error":
            status = "crashed"  # the tracer itself failed: not the program's fault
        return Trace(status=status, reason=result.reason or "the tracer returned nothing",
                     **common)
    data = result.value
    try:
        budget = _Budget(_TRACE_LITERAL_ITEMS)
        values = [_value(row, budget) for row in data["values"]]
        frames = data["frames"]
        states: list[dict[str, Value]] = []
        for _func, _depth, entry in frames:
            states.append({name: values[entry[name]] for name in sorted(entry)})
        steps: list[Step] = []
        seen: dict[int, int] = {}
        for line, frame_index, delta in data["steps"]:
            state = states[frame_index]
            if delta:
                merged = dict(state)
                for name, i in delta.items():
                    if i < 0:
                        merged.pop(name, None)
                    else:
                        merged[name] = values[i]
                state = {name: merged[name] for name in sorted(merged)}
                states[frame_index] = state
            occurrence = seen.get(line, 0) + 1
            seen[line] = occurrence
            func, depth, _ = frames[frame_index]
            # Sorted: local-variable order differs between CPython versions (PEP 709 inlining).
            changed = tuple(sorted(n for n, i in delta.items() if i >= 0)) if delta else ()
            steps.append(Step.model_construct(
                line=line, occurrence=occurrence, func=func, depth=depth, frame=frame_index,
                state_after=state, changed=changed))
        exc = data.get("exception")
        return Trace.model_construct(
            status=data["status"],
            result=values[data["result"]] if data.get("result") is not None else None,
            exception=TraceException(**exc) if exc else None,
            steps=steps, truncated=bool(data["truncated"]),
            truncated_reason=data.get("truncated_reason"),
            reason=None if data["status"] == "ok" else _reason(data),
            python=str(data.get("python", "")),
            **common)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        return Trace(status="crashed", reason=f"malformed trace from the sandbox: {exc!r}",
                     **common)


def _reason(data: dict[str, Any]) -> str:
    exc = data.get("exception") or {}
    where = f" at line {exc['line']}" if exc.get("line") else ""
    phase = data.get("phase")
    prefix = {"source": "the source failed to load: ", "call": "the call is invalid: "}.get(
        phase or "", "")
    return f"{prefix}{exc.get('type', 'error')}: {exc.get('message', '')}{where}"


def eval_call(source: str, call: str, limits: Limits | None = None, *,
              sandbox: Sandbox | None = None, max_value_bytes: int | None = None) -> Value | None:
    """Run ``call`` over ``source`` in the sandbox without tracing; its value, or None.

    None when the program fails to load, raises, times out or crashes, or when its value is
    over the bound: ``max_value_bytes`` of literal text (graders pass a few times the size of
    the value they expect), at most 1,000 items (the task cuts literals there).

    Example:
        >>> eval_call("def f(a):\n    return a * 3", "f(2)").to_python()
        6
    """
    if not isinstance(source, str) or not isinstance(call, str):
        raise TypeError("source and call must be str")
    sb = sandbox or default_sandbox()
    lim = limits or (DEFAULT_LIMITS if sandbox is None else sb.limits)
    # The record holds one value row: a few JSON values, and the literal as one string.
    bound: dict[str, Any] = {"max_result_items": min(lim.max_result_items, 256)}
    if max_value_bytes is not None:  # the literal's text, escaped once more in the record
        bound["max_result_bytes"] = max(1024, min(lim.max_result_bytes,
                                                  2 * max_value_bytes + 4096))
    result = sb.call("stepreward.trace._child:eval_call", {"source": source, "call": call},
                     limits=lim.model_copy(update=bound))
    if result.status != "ok" or not isinstance(result.value, dict):
        return None
    if result.value.get("status") != "ok":
        return None
    try:
        return _value(result.value["value"])
    except (KeyError, TypeError, ValueError):
        return None
