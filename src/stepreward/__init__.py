"""stepreward: verifiable rewards from program execution for RL on code models (ExecVerify).

The package is layered, imports pointing down only: types and values; sandbox; trace;
questions; scoring; codegen; rewards; synth; eval; integrations; cli; this facade on top. The
order is the ``LAYERS`` table in ``stepreward._layers``; ``docs/architecture.md`` walks
through it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stepreward._version import __version__

# Public name -> module that defines it.  Imported on first use so that `import stepreward`
# stays cheap and the sandbox template can import its own modules without third-party packages.
_EXPORTS = {
    "Limits": "stepreward.types",
    "ExecResult": "stepreward.types",
    "Sandbox": "stepreward.sandbox._pool",
    "Value": "stepreward.types",
    "Step": "stepreward.types",
    "Trace": "stepreward.types",
    "trace": "stepreward.trace",  # the package, which is callable as the function
    "trace_many": "stepreward.trace._api",
    "default_sandbox": "stepreward.trace._api",
    "set_default_sandbox": "stepreward.trace._api",
    "Question": "stepreward.types",
    "Sample": "stepreward.types",
    "Verdict": "stepreward.types",
    "build_sample": "stepreward.questions._sample",
    "build_samples": "stepreward.questions._sample",
    "Score": "stepreward.types",
    "RewardConfig": "stepreward.types",
    "score": "stepreward.scoring._score",
    "score_many": "stepreward.scoring._score",
    "run_tests": "stepreward.codegen._api",
    "code_reward": "stepreward.codegen._api",
    "TestCase": "stepreward.types",
    "TestReport": "stepreward.types",
    "CodeTask": "stepreward.types",
    "reward_for": "stepreward.rewards",
    "areward_for": "stepreward.rewards",
    "RewardResult": "stepreward.rewards",
}

__all__ = [
    "CodeTask",
    "ExecResult",
    "Limits",
    "Question",
    "RewardConfig",
    "RewardResult",
    "Sample",
    "Sandbox",
    "Score",
    "Step",
    "TestCase",
    "TestReport",
    "Trace",
    "Value",
    "Verdict",
    "__version__",
    "areward_for",
    "build_sample",
    "build_samples",
    "code_reward",
    "default_sandbox",
    "reward_for",
    "run_tests",
    "score",
    "score_many",
    "set_default_sandbox",
    "trace",
    "trace_many",
]

if TYPE_CHECKING:
    from stepreward.codegen._api import code_reward, run_tests
    from stepreward.questions._sample import build_sample, build_samples
    from stepreward.rewards import RewardResult, areward_for, reward_for
    from stepreward.sandbox._pool import Sandbox
    from stepreward.scoring._score import score, score_many
    from stepreward.trace._api import default_sandbox, set_default_sandbox, trace, trace_many
    from stepreward.types import (
        CodeTask,
        ExecResult,
        Limits,
        Question,
        RewardConfig,
        Sample,
        Score,
        Step,
        TestCase,
        TestReport,
        Trace,
        Value,
        Verdict,
    )


_SUBPACKAGES = {"sandbox", "trace", "values", "questions", "scoring", "synth", "types", "cli",
                "testing", "codegen", "eval", "presets", "rewards", "rows"}


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES and name not in _EXPORTS:
        return importlib.import_module(f"{__name__}.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stepreward' has no attribute {name!r}")
    if module == f"{__name__}.{name}":
        value = importlib.import_module(module)
    else:
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
