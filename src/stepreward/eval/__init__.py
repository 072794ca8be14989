"""Benchmark and task-set loaders, and evaluation runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["canonical_code", "load_humaneval", "load_humaneval_plus", "load_mbpp_plus",
           "load_prime_code", "tasks_from_synth", "verify_canonical"]

if TYPE_CHECKING:
    from stepreward.eval._tasks import (
        canonical_code,
        load_humaneval,
        load_humaneval_plus,
        load_mbpp_plus,
        load_prime_code,
        tasks_from_synth,
        verify_canonical,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from stepreward.eval import _tasks

        return getattr(_tasks, name)
    raise AttributeError(f"module 'stepreward.eval' has no attribute {name!r}")
