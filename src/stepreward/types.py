"""Shared result and option types of stepreward (pydantic models that round-trip through JSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ExecResult", "ExecStatus", "Limits"]

ExecStatus = Literal["ok", "error", "timeout", "memory", "output_limit", "crashed", "rejected"]


class Limits(BaseModel):
    """Resource limits for one sandboxed execution (frozen and hashable).

    ``timeout_s`` is wall-clock time, enforced by killing the task; CPU time is capped at the
    same number of seconds (rounded up).  ``memory_mb`` is the address space the task may add
    on top of the pre-loaded interpreter (``None``: no limit).

    Example:
        >>> Limits(timeout_s=1.0, memory_mb=256).timeout_s
        1.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(2.0, gt=0, le=3600)
    memory_mb: int | None = Field(512, ge=16, le=1 << 20)
    max_output_bytes: int = Field(1_000_000, ge=0, le=1 << 30)
    max_result_bytes: int = Field(32 << 20, ge=1024, le=1 << 30)
    max_open_files: int = Field(64, ge=8, le=1 << 16)
    max_processes: int = Field(1, ge=1, le=4096)
    max_code_bytes: int = Field(1_000_000, ge=1, le=1 << 30)
    max_stdin_bytes: int = Field(16 << 20, ge=0, le=1 << 30)

    @model_validator(mode="before")
    @classmethod
    def _reject_bools(cls, data: Any) -> Any:
        # bool is an int subclass: Limits(timeout_s=True) is almost certainly a bug.
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, bool):
                    raise ValueError(f"{key} must be a number, not a bool")
        return data


class ExecResult(BaseModel):
    """What one sandboxed execution did.

    ``status`` is decided by the parent from data the task cannot forge (exit status, signals,
    resource usage, output sizes); the task's own report only refines ``ok`` vs ``error``.
    ``reason`` explains every status other than ``ok``.

    Example:
        >>> r = ExecResult(status="ok", stdout="4\\n")
        >>> r.ok, r.stdout
        (True, '4\\n')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ExecStatus
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    error_type: str | None = None
    error_message: str | None = None
    reason: str | None = None
    duration_s: float = 0.0
    cpu_s: float = 0.0
    max_rss_mb: float = 0.0
    exit_code: int | None = None
    signal: str | None = None
    value: Any = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"
