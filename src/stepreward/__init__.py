"""stepreward: verifiable rewards from program execution for RL on code models (ExecVerify).

The package is layered, imports pointing down only: types and values; sandbox; trace;
questions; scoring; codegen; rewards; synth; eval; integrations; cli; this facade on top. The
order is the ``LAYERS`` table in ``stepreward._layers``; ``docs/architecture.md`` walks
through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepreward._lazy import lazy_exports
from stepreward._version import __version__

__all__ = [
    "CodeScore",
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
        CodeScore,
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


# Imported on first use, so that `import stepreward` stays cheap and the sandbox template can
# import its own modules without third-party packages. Subpackages (`stepreward.eval`,
# `stepreward.integrations`, ...) are attributes too, imported on first access.
__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.types": ["CodeScore", "CodeTask", "ExecResult", "Limits", "Question",
                         "RewardConfig", "Sample", "Score", "Step", "TestCase", "TestReport",
                         "Trace", "Value", "Verdict"],
    "stepreward.sandbox._pool": ["Sandbox"],
    "stepreward.trace": ["trace"],  # the package, which is callable as the function
    "stepreward.trace._api": ["default_sandbox", "set_default_sandbox", "trace_many"],
    "stepreward.questions._sample": ["build_sample", "build_samples"],
    "stepreward.scoring._score": ["score", "score_many"],
    "stepreward.codegen._api": ["code_reward", "run_tests"],
    "stepreward.rewards": ["RewardResult", "areward_for", "reward_for"],
})
