"""Unit-test rewards for generated code (stage 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["CodeScore", "CodeTask", "TestCase", "TestReport", "code_reward",
           "code_reward_many", "extract_code", "infer_entry_point", "run_tests",
           "tests_from_assertions"]

if TYPE_CHECKING:
    from stepreward.codegen._api import (
        CodeScore,
        code_reward,
        code_reward_many,
        extract_code,
        infer_entry_point,
        run_tests,
        tests_from_assertions,
    )
    from stepreward.types import CodeTask, TestCase, TestReport


def __getattr__(name: str) -> Any:
    # Lazy: the sandbox template imports stepreward.codegen._child without site-packages.
    if name in ("CodeTask", "TestCase", "TestReport"):
        from stepreward import types

        return getattr(types, name)
    if name in __all__:
        from stepreward.codegen import _api

        return getattr(_api, name)
    raise AttributeError(f"module 'stepreward.codegen' has no attribute {name!r}")
