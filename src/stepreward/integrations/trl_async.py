"""Running TRL reward functions concurrently: ``AsyncReward`` and ``concurrent_rewards``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["AsyncReward", "concurrent_rewards"]


class AsyncReward:
    """An ``async`` version of a reward callable. TRL's ``GRPOTrainer`` calls sync reward
    functions one after another and only then runs the async ones, all together on its event
    loop: an async reward overlaps with the other async rewards, not with the sync ones. To run
    every reward at once, make all of them async with :func:`concurrent_rewards`.

    Example:
        >>> def length(completions, **kwargs):
        ...     return [float(len(c)) for c in completions]
        >>> AsyncReward(length).__name__
        'length'
    """

    def __init__(self, reward: Callable[..., Any]) -> None:
        self.reward = reward
        self.__name__ = getattr(reward, "__name__", type(reward).__name__)

    async def __call__(self, prompts: Sequence[Any] | None = None,
                       completions: Sequence[Any] | None = None,
                       **kwargs: Any) -> list[float | None]:
        import asyncio

        # log_metric/log_extra only append to lists: safe to call from the worker thread.
        result: list[float | None] = await asyncio.to_thread(self.reward, prompts=prompts,
                                                             completions=completions, **kwargs)
        return result


def _is_async(func: Any) -> bool:
    import functools
    import inspect

    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None))  # noqa: B004 - a callable instance's own __call__


def concurrent_rewards(rewards: Iterable[Any]) -> list[Any]:
    """The reward functions for ``GRPOTrainer(reward_funcs=...)``, each sync callable wrapped
    in :class:`AsyncReward` (names kept), so that TRL runs all of
    them together on its event loop instead of one sync function after another. Async
    callables and reward models (a model id or a ``PreTrainedModel``) are left as they are.

    Example:
        >>> def length(completions, **kwargs):
        ...     return [float(len(c)) for c in completions]
        >>> [type(r).__name__ for r in concurrent_rewards([length, "some/model-id"])]
        ['AsyncReward', 'str']
    """
    out: list[Any] = []
    for reward in rewards:
        torch = sys.modules.get("torch")
        model_like = isinstance(reward, str) or (
            torch is not None and isinstance(reward, torch.nn.Module))
        out.append(reward if model_like or not callable(reward) or _is_async(reward)
                   else AsyncReward(reward))
    return out
