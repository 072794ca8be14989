"""Shared fixtures: one sandbox per test module, and process-leak checks with psutil."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import stepreward as sr
from stepreward.sandbox._pool import DEFAULT_UID_BASE

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sandbox_processes(exclude: set[int] = frozenset()) -> list[psutil.Process]:  # type: ignore[assignment]
    """Live processes that belong to any sandbox: our descendants or a task uid."""
    found = {p.pid: p for p in psutil.Process().children(recursive=True) if p.pid not in exclude}
    for proc in psutil.process_iter(["uids"]):
        uids = proc.info.get("uids")
        if uids and uids.real >= DEFAULT_UID_BASE and proc.pid not in exclude:
            found[proc.pid] = proc
    alive = []
    for proc in found.values():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.fixture(scope="module")
def sandbox() -> Iterator[sr.Sandbox]:
    with sr.Sandbox(workers=2) as sb:
        yield sb


@pytest.fixture
def is_root() -> bool:
    return os.geteuid() == 0
