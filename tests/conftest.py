"""Shared fixtures: one sandbox per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import stepreward as sr

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[sr.Sandbox]:
    with sr.Sandbox(workers=2) as sb:
        yield sb


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
