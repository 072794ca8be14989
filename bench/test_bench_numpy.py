"""What ``Sandbox(preload=["numpy"])`` saves a numpy task, and what it costs the others.

Three pools in one session, one worker each, tasks one after another:

* no preload: numpy cannot be imported there at all (tasks see the standard library only),
  so only the empty task runs; it is the baseline of the group;
* numpy preloaded: numpy imported once by the template and shared by every forked task;
* ``isolation_mode="minimal"`` without preload (no Landlock, so site-packages is readable):
  each task puts site-packages on its path and pays ``import numpy`` itself, which is what a
  task would pay without the preload.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import stepreward as sr
from conftest import Measure, Registry

numpy = pytest.importorskip("numpy")

GROUP = "sandbox: numpy tasks, 1 worker"
N = 60  # tasks per round
EMPTY = "x = 1"
NUMPY_TASK = "import numpy as np\nprint(int(np.arange(10).sum()))"
SITE = os.path.dirname(os.path.dirname(numpy.__file__))
IMPORTING = f"import sys\nsys.path.append({SITE!r})\n{NUMPY_TASK}"
PLAIN = "empty task, no preload"
PRE_EMPTY = "empty task, numpy preloaded"
PRE_NUMPY = "numpy task, numpy preloaded"
SELF_IMPORT = "numpy task, imports numpy itself (minimal isolation)"


@pytest.fixture(scope="module")
def pools() -> Iterator[dict[str, sr.Sandbox]]:
    with sr.Sandbox(workers=1) as plain, \
            sr.Sandbox(workers=1, preload=["numpy"]) as pre, \
            sr.Sandbox(workers=1, isolation_mode="minimal") as minimal:
        yield {"plain": plain, "pre": pre, "minimal": minimal}


def _tasks(sb: sr.Sandbox, code: str) -> None:
    for _ in range(N):
        r = sb.run(code)
        assert r.ok, (r.status, r.reason, r.stderr[-300:])


@pytest.mark.parametrize(("label", "pool", "code", "baseline"), [
    (PLAIN, "plain", EMPTY, None),
    (PRE_EMPTY, "pre", EMPTY, PLAIN),
    (PRE_NUMPY, "pre", NUMPY_TASK, (PLAIN, SELF_IMPORT)),
    (SELF_IMPORT, "minimal", IMPORTING, PLAIN),
])
def test_numpy_preload(measure: Measure, pools: dict[str, sr.Sandbox], label: str,
                       pool: str, code: str, baseline: str | tuple[str, ...] | None) -> None:
    sb = pools[pool]
    assert sb.run(code).ok  # warm the pool
    measure(lambda: _tasks(sb, code), group=GROUP, label=label, items=N, unit="tasks",
            baseline=baseline, rounds=3, template_mib=round(sb.info["vm_base"] / 2**20))


def test_targets(ratios: Registry) -> None:
    # Measured when the preload was added: a numpy task 14.5-17.4x faster with the preload,
    # and an empty task in a preloaded pool within 1.0-1.2x of one in a plain pool.
    ratios.check(GROUP, PRE_NUMPY, SELF_IMPORT, at_least=5.0,
                 why="preloading numpy saves each numpy task its import")
    ratios.check(GROUP, PRE_EMPTY, PLAIN, at_least=0.67,
                 why="a preloaded pool costs tasks that do not use numpy at most 1.5x")
