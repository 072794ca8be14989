"""Running TRL reward functions concurrently: ``concurrent_rewards`` makes every one async."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["concurrent_rewards"]


def _is_async(func: Any) -> bool:
    import functools
    import inspect

    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None))  # noqa: B004 - a callable instance's own __call__


def concurrent_rewards(rewards: Iterable[Any]) -> list[Any]:
    """The reward functions for ``GRPOTrainer(reward_funcs=...)``, each sync callable wrapped
    in :class:`~stepreward.integrations.trl.AsyncReward` (names kept), so that TRL runs all of
    them together on its event loop instead of one sync function after another. Async
    callables and reward models (a model id or a ``PreTrainedModel``) are left as they are.

    Example:
        >>> from stepreward.integrations.trl import ExecutionReward, UnitTestReward
        >>> [type(r).__name__ for r in concurrent_rewards([ExecutionReward(), UnitTestReward()])]
        ['AsyncReward', 'AsyncReward']
    """
    from stepreward.integrations.trl import AsyncReward

    out: list[Any] = []
    for reward in rewards:
        torch = sys.modules.get("torch")
        model_like = isinstance(reward, str) or (
            torch is not None and isinstance(reward, torch.nn.Module))
        out.append(reward if model_like or not callable(reward) or _is_async(reward)
                   else AsyncReward(reward))
    return out
