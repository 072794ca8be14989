"""Unit-test rewards for generated code (stage 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepreward._lazy import lazy_exports

__all__ = ["CodeScore", "CodeTask", "TestCase", "TestReport", "code_reward",
           "code_reward_many", "extract_code", "infer_entry_point", "run_tests",
           "tests_from_assertions"]

if TYPE_CHECKING:
    from stepreward.codegen._api import (
        code_reward,
        code_reward_many,
        extract_code,
        infer_entry_point,
        run_tests,
        tests_from_assertions,
    )
    from stepreward.types import CodeScore, CodeTask, TestCase, TestReport

# The sandbox template imports stepreward.codegen._child without site-packages: nothing here
# loads before it is asked for.
__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.codegen._api": ["code_reward", "code_reward_many", "extract_code",
                                "infer_entry_point", "run_tests", "tests_from_assertions"],
    "stepreward.types": ["CodeScore", "CodeTask", "TestCase", "TestReport"],
})
