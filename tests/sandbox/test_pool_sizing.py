"""The default pool size in multi-process training: LOCAL_WORLD_SIZE shares the CPUs out,
STEPREWARD_WORKERS overrides."""

from __future__ import annotations

import os

import pytest

import stepreward as sr
from stepreward.sandbox._pool import default_workers

CPUS = len(os.sched_getaffinity(0))


@pytest.mark.parametrize("env, want", [
    ({}, CPUS),
    ({"LOCAL_WORLD_SIZE": "1"}, CPUS),
    ({"LOCAL_WORLD_SIZE": "2"}, max(1, CPUS // 2)),
    ({"LOCAL_WORLD_SIZE": str(CPUS * 8)}, 1),  # more ranks than CPUs: still one each
    ({"LOCAL_WORLD_SIZE": "not a number"}, CPUS),  # the launcher's variable, not ours
    ({"LOCAL_WORLD_SIZE": "0"}, CPUS),
    ({"STEPREWARD_WORKERS": "5"}, 5),
    ({"STEPREWARD_WORKERS": " 7 ", "LOCAL_WORLD_SIZE": "8"}, 7),  # the override wins
])
def test_default_workers(env: dict[str, str], want: int) -> None:
    assert default_workers(env) == want


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_override_is_a_clear_error(value: str) -> None:
    with pytest.raises(ValueError, match="STEPREWARD_WORKERS must be a positive integer"):
        default_workers({"STEPREWARD_WORKERS": value})


def test_sandbox_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEPREWARD_WORKERS", raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(CPUS))  # one rank per CPU: one worker each
    with sr.Sandbox() as sb:
        assert sb.workers == 1
        assert sb.run("print(1)").stdout == "1\n"
    monkeypatch.setenv("STEPREWARD_WORKERS", "3")
    with sr.Sandbox() as sb:
        assert sb.workers == 3
    with sr.Sandbox(workers=2) as sb:  # an explicit size is taken as given
        assert sb.workers == 2
    monkeypatch.setenv("STEPREWARD_WORKERS", "lots")
    with pytest.raises(ValueError, match="STEPREWARD_WORKERS"):
        sr.Sandbox()
