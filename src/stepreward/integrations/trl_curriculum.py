"""The online curriculum on TRL: an endless dataset drawn by a :class:`Curriculum`, and a
reward that reports each group's rewards back to it.

``GRPOTrainer`` asks its reward functions for every completion of a generation batch, with
the dataset's columns as keyword arguments; :class:`CurriculumReward` wraps a stepreward
reward, returns its rewards unchanged and tells the curriculum each group's rewards and
per-kind accuracies (the row's ``curriculum_id`` column names the group), then logs the
curriculum's metrics through TRL's ``log_metric``. :func:`curriculum_dataset` makes the
``datasets.IterableDataset`` that draws the next row when the trainer asks for it.

Example (the recipe's stage 1 does this with ``stage1.curriculum``)::

    cur = Curriculum(sample_rows(train_rows), CurriculumConfig(band=(0.3, 0.7), seed=0))
    trainer = GRPOTrainer(model=..., args=GRPOConfig(..., max_steps=200,
                                                     shuffle_dataset=False),
                          train_dataset=curriculum_dataset(cur),
                          reward_funcs=[CurriculumReward(cur, ExecutionReward()),
                                        FormatReward()])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from stepreward.curriculum import KEY_COLUMN, Curriculum, CurriculumConfig
from stepreward.integrations.trl import ExecutionReward, _Reward

__all__ = ["CurriculumReward", "curriculum_dataset", "curriculum_from_config",
           "curriculum_grpo_options"]

log = logging.getLogger("stepreward.trl")


class CurriculumReward:
    """A stepreward reward that also feeds the curriculum (same name, same rewards).

    ``reward`` defaults to :class:`~stepreward.integrations.trl.ExecutionReward`; any
    stepreward reward works (its ``{kind}_accuracy`` metrics become the curriculum's per-kind
    accuracies). Rows without a ``curriculum_id`` (or whose reward is None) are not reported.
    Feeding the curriculum never raises: a failure is logged and training goes on.

    Example:
        >>> from stepreward.curriculum import Curriculum
        >>> cur = Curriculum([{"level": 1, "sample": None}])
        >>> CurriculumReward(cur).__name__
        'stepreward_execution'
    """

    def __init__(self, curriculum: Curriculum, reward: _Reward | None = None, *,
                 key_column: str = KEY_COLUMN) -> None:
        if not isinstance(curriculum, Curriculum):
            raise TypeError("curriculum must be a stepreward.curriculum.Curriculum")
        reward = reward if reward is not None else ExecutionReward()
        if not callable(getattr(reward, "scored", None)):
            raise TypeError("reward must be a stepreward TRL reward (ExecutionReward, "
                            "UnitTestReward, FormatReward)")
        self.curriculum = curriculum
        self.reward = reward
        self.key_column = key_column
        self.__name__ = reward.__name__

    def __call__(self, prompts: Sequence[Any] | None = None,
                 completions: Sequence[Any] | None = None, **kwargs: Any) -> list[float | None]:
        results = self.reward.scored(prompts, completions, **kwargs)
        rewards = [r for r, _, _ in results]
        try:
            keys = list(kwargs.get(self.key_column) or [])
            idx = [k for k, key in enumerate(keys[:len(rewards)])
                   if isinstance(key, str) and rewards[k] is not None]
            comps = [{name[: -len("_accuracy")]: v for name, v in results[k][2].items()
                      if name.endswith("_accuracy")} or None for k in idx]
            self.curriculum.observe_rows([keys[k] for k in idx], [rewards[k] for k in idx],
                                         comps)
            log_metric = kwargs.get("log_metric")
            if callable(log_metric):
                for name, value in self.curriculum.metrics().items():
                    log_metric(name, value)
        except Exception as exc:  # the curriculum must never take training down
            log.warning("curriculum could not observe a batch: %r", exc)
        return rewards

    def __repr__(self) -> str:
        return f"CurriculumReward({self.reward!r}, {self.curriculum!r})"


def curriculum_dataset(curriculum: Curriculum) -> Any:
    """An endless ``datasets.IterableDataset`` whose rows the curriculum draws on demand.

    Train with ``max_steps`` set and ``shuffle_dataset=False`` (see
    :func:`curriculum_grpo_options`): a shuffle buffer would draw a thousand rows ahead, by
    the curriculum's state of then. Needs ``pip install 'stepreward[trl]'``.

    Example:
        >>> from stepreward.curriculum import Curriculum
        >>> ds = curriculum_dataset(Curriculum([{"level": 1, "prompt": "q"}]))
        >>> next(iter(ds))["curriculum_id"]
        '1:0'
    """
    try:
        import datasets
    except ImportError:
        raise ImportError("curriculum_dataset needs the datasets package: "
                          "pip install 'stepreward[trl]'") from None
    if not isinstance(curriculum, Curriculum):
        raise TypeError("curriculum must be a stepreward.curriculum.Curriculum")

    def rows() -> Any:
        yield from curriculum

    return datasets.IterableDataset.from_generator(rows)


def curriculum_grpo_options() -> dict[str, Any]:
    """``GRPOConfig`` settings a curriculum needs: no shuffle buffer (rows must be drawn
    when used), one data worker (TRL forces it for iterable datasets anyway).

    Example:
        >>> curriculum_grpo_options()["shuffle_dataset"]
        False
    """
    return {"shuffle_dataset": False, "dataloader_num_workers": 0}


def curriculum_from_config(spec: Any, *, seed: int = 0) -> CurriculumConfig | None:
    """The recipe's ``stage1.curriculum`` option, validated: None when absent or
    ``enabled: false``, else a :class:`CurriculumConfig` (with the recipe's ``seed`` unless
    the option gives one). ``true`` means the defaults.

    Example:
        >>> curriculum_from_config({"band": [0.2, 0.8], "min_share": 0.1}, seed=3).seed
        3
        >>> curriculum_from_config({"enabled": False}) is None
        True
    """
    if spec is None or spec is False:
        return None
    if spec is True:
        spec = {}
    if not isinstance(spec, dict):
        raise ValueError("stage1.curriculum must be a mapping of CurriculumConfig settings "
                         f"(or true), got {type(spec).__name__}")
    spec = dict(spec)
    if not spec.pop("enabled", True):
        return None
    spec.setdefault("seed", seed)
    if isinstance(spec.get("band"), list):
        spec["band"] = tuple(spec["band"])
    try:
        config = CurriculumConfig.model_validate(spec)
    except ValueError as exc:
        raise ValueError(f"stage1.curriculum is not valid: {exc}") from None
    return config
