"""What a task's run came to: the trainer decides the status from what the template observed
(exit, signal, time, sizes), and reads the task's own record only as a claim."""

from __future__ import annotations

import json
import math
import signal
from typing import Any

from stepreward._jsonlimits import json_shape
from stepreward.sandbox._template import EXIT_SETUP_FAILED
from stepreward.types import ExecResult, Limits

__all__ = ["signal_name", "verdict"]


def signal_name(num: int | None) -> str | None:
    if num is None:
        return None
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def verdict(header: dict[str, Any], out: bytes, err: bytes, record_raw: bytes,
             limits: Limits) -> ExecResult:
    """Decide the status from what the template observed; the task's record is only a claim."""
    sig = header.get("signal")
    exit_code = header.get("exit_code")
    common: dict[str, Any] = {
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
        "stdout_truncated": header["stdout_size"] > len(out),
        "stderr_truncated": header["stderr_size"] > len(err),
        "duration_s": float(header["duration_s"]),
        "cpu_s": float(header["cpu_s"]),
        "max_rss_mb": header["max_rss_kb"] / 1024.0,
        "exit_code": exit_code,
        "signal": signal_name(sig),
    }
    cap = limits.max_output_bytes
    if header["stdout_size"] > cap or header["stderr_size"] > cap:
        return ExecResult(status="output_limit", **common,
                          reason=f"output exceeded {cap} bytes")
    cpu_cap = max(1, math.ceil(limits.timeout_s))
    if header["timed_out"] or sig == signal.SIGXCPU or (
            sig == signal.SIGKILL and header["cpu_s"] >= cpu_cap):
        return ExecResult(status="timeout", **common,
                          reason=f"exceeded the time limit of {limits.timeout_s:g} s")
    if "over the job's limit" in (header["record_problem"] or ""):  # ended at the cap
        return ExecResult(status="crashed", **common,
                          reason=f"the task's {header['record_problem']}")
    if header["exited"] and exit_code == EXIT_SETUP_FAILED:
        return ExecResult(status="crashed", **common,
                          reason="the sandbox could not confine the task (setup failed)")
    if header["exited"] and exit_code == 0 and header["record_problem"] is None:
        # Counted before it is decoded: a record of many small containers would cost the
        # trainer ~200 bytes and the GIL per value.
        shape = json_shape(record_raw, max_items=limits.max_result_items)
        if shape is not None:
            return ExecResult(status="crashed", **common,
                              reason=f"the result record is over the job's limits: {shape}")
        try:
            record = json.loads(record_raw)
            status = record["status"]
            if status not in ("ok", "error", "memory"):
                raise ValueError(status)
        except (ValueError, KeyError, TypeError, RecursionError, MemoryError):
            return ExecResult(status="crashed", **common, reason="malformed result record")
        etype = record.get("error_type")
        emsg = record.get("error_message")
        etype = etype if isinstance(etype, str) else None
        emsg = emsg if isinstance(emsg, str) else None
        reason = None
        if status == "error":
            reason = f"{etype}: {emsg}" if emsg else etype
        elif status == "memory":
            reason = f"exceeded the memory limit of {limits.memory_mb} MB"
        return ExecResult(status=status, error_type=etype, error_message=emsg, reason=reason,
                          value=record.get("value"), **common)
    if sig is not None:
        mem = limits.memory_mb
        if mem and sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGKILL) \
                and header["max_rss_kb"] / 1024.0 >= 0.8 * mem:
            return ExecResult(status="memory", **common,
                              reason=f"killed by {signal_name(sig)} near the memory limit")
        return ExecResult(status="crashed", **common,
                          reason=f"the task was killed by {signal_name(sig)}")
    problem = header["record_problem"] or "no result"
    return ExecResult(status="crashed", **common,
                      reason=f"the task exited with code {exit_code} without a valid result "
                             f"record ({problem}); it bypassed or tampered with the reporter")
