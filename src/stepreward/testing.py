"""Helpers for tests of code that uses stepreward: finding sandbox processes left behind."""

from __future__ import annotations

from collections.abc import Iterable

import psutil

from stepreward.sandbox._pool import DEFAULT_UID_BASE

__all__ = ["sandbox_processes"]


def sandbox_processes(exclude: Iterable[int] = (), uid_base: int = DEFAULT_UID_BASE) -> list[
        psutil.Process]:
    """Live processes of any sandbox: descendants of this process or running as a task uid.

    Example:
        >>> import stepreward as sr
        >>> before = {p.pid for p in sandbox_processes()}
        >>> with sr.Sandbox(workers=1) as sb:
        ...     _ = sb.run("print(1)")
        >>> sandbox_processes(exclude=before)
        []
    """
    skip = set(exclude)
    found = {p.pid: p for p in psutil.Process().children(recursive=True) if p.pid not in skip}
    for proc in psutil.process_iter(["uids"]):
        uids = proc.info.get("uids")
        if uids and uids.real >= uid_base and proc.pid not in skip:
            found[proc.pid] = proc
    alive = []
    for proc in found.values():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            continue
    return alive
