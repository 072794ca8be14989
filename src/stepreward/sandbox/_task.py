"""What runs inside a task process: the task's code or call, its one result record, and the
progress clock it shares with the template.

Standard library only, imported by the template before it forks (the task inherits it): the
task process can no longer read it from disk once it is confined.
"""

from __future__ import annotations

import builtins
import gc
import importlib
import json
import mmap
import os
import resource
import struct
import sys
import time
import traceback
import types
from typing import Any

from stepreward.sandbox._protocol import RECORD_HEADER, RECORD_MAGIC

__all__ = ["EXIT_SETUP_FAILED", "Quitter", "clear_progress", "last_progress",
           "open_progress_page", "report_and_exit", "report_progress", "run_task"]

EXIT_SETUP_FAILED = 121  # the child could not confine itself; never reported as the task's fault
# Allocated (and touched) in the template, so tasks share it copy-on-write for free; a task
# that hits MemoryError releases it to have room to report.
_RESERVE = bytearray(1 << 18)
# A page shared by the template and each task it forks: the task writes the monotonic time at
# which it last made progress (report_progress); the template reads it at its deadlines.
_PROGRESS_CLOCK = struct.Struct("d")
_PROGRESS: mmap.mmap | None = None


def open_progress_page() -> None:
    """In the template, once, before it forks tasks: the page the tasks write their progress
    time to."""
    global _PROGRESS
    _PROGRESS = mmap.mmap(-1, mmap.PAGESIZE)


def clear_progress() -> None:
    """In the template, before a task starts: no progress reported yet."""
    if _PROGRESS is not None:
        _PROGRESS_CLOCK.pack_into(_PROGRESS, 0, 0.0)


def last_progress(now: float) -> float:
    """In the template: when the running task last reported progress, clamped to ``now`` (a
    task cannot claim progress in the future); 0 without a page."""
    page = _PROGRESS
    return min(_PROGRESS_CLOCK.unpack_from(page, 0)[0], now) if page else 0.0


class Quitter:
    """``exit()`` and ``quit()``, which ``site`` would define (the template runs with -S)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Use {self.name}() to exit"

    def __call__(self, code: object = None) -> None:
        raise SystemExit(code)


# Bound at import, before any user code can rebind module attributes.
_write, _exit_now, _dumps = os.write, os._exit, json.dumps
_monotonic, _pack_clock = time.monotonic, _PROGRESS_CLOCK.pack_into


def report_progress() -> None:
    """From a ``Sandbox.call`` target: the task is making progress (a test starts, say).

    With ``Limits.progress_timeout_s`` the template kills a task that goes that long without
    calling this. The task can only claim progress: what it claims is bounded by the job's
    ``timeout_s`` all the same.
    """
    page = _PROGRESS
    if page is not None:  # pragma: no cover - runs in the task
        _pack_clock(page, 0, _monotonic())


def run_task(req: dict[str, Any]) -> None:  # pragma: no cover - child
    # The template's stream objects were set up by main() and are empty; fds 0-2 now point
    # at this task's own files, so the same objects serve the task.
    stderr = sys.stderr
    sys.argv = ["<sandbox>"]
    record: dict[str, Any] = {"status": "ok"}
    try:
        if req["op"] == "exec":
            main = types.ModuleType("__main__")
            main.__dict__["__builtins__"] = builtins
            sys.modules["__main__"] = main
            code = compile(req["code"], "<sandbox>", "exec", dont_inherit=True)
            exec(code, main.__dict__)
        else:
            module_name, _, func_name = req["target"].partition(":")
            func = getattr(importlib.import_module(module_name), func_name)
            record["value"] = func(req.get("payload"))
    except SystemExit as exc:
        if exc.code not in (None, 0):
            record = {"status": "error", "error_type": "SystemExit",
                      "error_message": _safe_str(exc.code)}
            if not isinstance(exc.code, int):
                _print_safely(stderr, _safe_str(exc.code))
    except MemoryError:
        _RESERVE.clear()  # hand the template's reserve back to the allocator for the reporter
        gc.collect()
        record = {"status": "memory", "error_type": "MemoryError", "error_message": ""}
    except BaseException as exc:
        record = {"status": "error", "error_type": type(exc).__name__,
                  "error_message": _safe_str(exc)}
        try:
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next
                                      if exc.__traceback__ else None, file=stderr)
        except BaseException:
            pass
    _report(record, stderr)


def report_and_exit(value: Any) -> None:
    """From a ``Sandbox.call`` target: end the task now with ``value`` as its result.

    For targets that must finish even if user code they run would swallow an exception
    (a tracer that hits its step cap, say).
    """
    _report({"status": "ok", "value": value}, sys.stderr)  # pragma: no cover - child


def _report(record: dict[str, Any], stderr: Any) -> None:  # pragma: no cover - child
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, stderr):
        try:
            stream.flush()  # type: ignore[union-attr]
        except BaseException:
            pass
    try:
        body = _OK_BODY if record == _OK_RECORD else _dumps(
            record, separators=(",", ":"), default=repr).encode("utf-8", "surrogatepass")
    except BaseException as exc:
        body = _dumps({"status": "error", "error_type": "ResultNotSerializable",
                       "error_message": _safe_str(exc)}).encode()
    try:
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    except BaseException:
        pass
    data = RECORD_HEADER.pack(RECORD_MAGIC, len(body)) + body
    try:
        while data:
            n = _write(3, data)
            data = data[n:]
    except BaseException:
        _exit_now(EXIT_SETUP_FAILED + 1)
    _exit_now(0)


_OK_RECORD = {"status": "ok"}
_OK_BODY = b'{"status":"ok"}'


def _safe_str(obj: object) -> str:
    try:
        text = str(obj)
    except BaseException:
        return f"<unprintable {type(obj).__name__}>"
    return text if len(text) <= 2000 else text[:2000] + "..."


def _print_safely(stream: Any, text: str) -> None:
    try:
        print(text, file=stream)
    except BaseException:
        pass
