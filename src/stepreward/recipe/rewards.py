"""The method's rewards per stage: the stage-1 execution reward, the stage-2 unit-test reward
and its instruction, as the TRL reward functions a recipe config gives each GRPO stage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stepreward.types import CodeTask

if TYPE_CHECKING:
    from stepreward.codegen import CodeScore
    from stepreward.recipe.schema import GrpoSection, RecipeConfig
    from stepreward.sandbox._pool import Sandbox

__all__ = ["STAGE2_INSTRUCTION", "execution_reward", "method_code_reward", "stage_rewards"]

# Our wording of the method's stage-2 instruction (reason, check against the examples, then
# one python block inside the answer tags).
STAGE2_INSTRUCTION = (
    "Solve the problem above in Python. Check your program against the example inputs and "
    "outputs given in the problem before you answer. Put your step-by-step reasoning "
    "between <reasoning> and </reasoning>, then the complete program in one ```python block "
    "between <answer> and </answer>.")


def method_code_reward(completion: Any, task: CodeTask, *, format_bonus: float = 0.05,
                       partial_tests: int = 10, timeout_s: float = 1.0,
                       sandbox: Sandbox | None = None,
                       partial_seed: int | None = None) -> CodeScore:
    """The method's stage-2 reward: the ``method`` preset of :mod:`stepreward.presets` (1 when
    every test passes, else the pass rate over the first ``partial_tests`` tests, plus
    ``format_bonus`` when above 0), as a ``CodeScore``. ``partial_seed`` pays the pass rate
    over ``partial_tests`` tests drawn per task with that seed instead of the first ones
    (which are usually the prompt's examples). Never raises.

    Example:
        >>> from stepreward.types import TestCase
        >>> t = CodeTask(task_id="t", prompt="", tests=[TestCase.call("sq", (3,), 9)])
        >>> method_code_reward("<answer>\\n```python\\ndef sq(x):\\n    return x * x\\n```"
        ...                    "\\n</answer>", t).reward
        1.05
    """
    from stepreward.codegen import CodeScore
    from stepreward.rewards import reward_for

    r = reward_for(completion, task, preset="method", format_bonus=format_bonus,
                   partial_tests=partial_tests, timeout_s=timeout_s, sandbox=sandbox,
                   partial_seed=partial_seed)
    if r.details is not None:
        return r.details  # type: ignore[no-any-return]
    return CodeScore(0.0, None, None, r.reason)


def execution_reward(stage1: GrpoSection) -> Any:
    """The stage-1 reward of a config: a preset name, or a RewardConfig from its fields (an
    ablation's ``alpha``/``gate``).

    Example:
        >>> from stepreward.recipe.schema import GrpoSection
        >>> execution_reward(GrpoSection(reward={"alpha": 0.0})).alpha
        0.0
    """
    from stepreward.types import RewardConfig

    spec = stage1.reward
    return RewardConfig(**spec) if isinstance(spec, Mapping) else spec


def _grpo_section(cfg: RecipeConfig | Mapping[str, Any], stage: str) -> GrpoSection:
    from stepreward.recipe.schema import validate_recipe_config

    if stage not in ("stage1", "stage2"):
        raise ValueError(f"stage must be stage1 or stage2, got {stage!r}")
    section: GrpoSection = getattr(validate_recipe_config(cfg), stage)
    return section


def stage_rewards(cfg: RecipeConfig | Mapping[str, Any], stage: str) -> list[Any]:
    """The TRL reward functions a recipe config gives a GRPO stage, each a thin call into
    :func:`stepreward.rewards.reward_for`.

    ``stage1``: :class:`ExecutionReward` with the config's ``reward`` preset (a name in
    :data:`stepreward.presets.PRESETS` or RewardConfig fields); ``stage2``:
    :class:`UnitTestReward` (``partial_tests`` and ``format_bonus`` give the ``method``
    preset, ``partial_seed`` its seeded draw of the tests; else ``partial``). Both add
    :class:`FormatReward` — shaping beyond the method — unless ``format_reward: false`` (the
    paper configs).

    Example:
        >>> [r.__name__ for r in stage_rewards({"stage1": {"format_reward": False}}, "stage1")]
        ['stepreward_execution']
    """
    from stepreward.integrations.trl import (
        ExecutionReward,
        FormatReward,
        UnitTestReward,
    )

    st = _grpo_section(cfg, stage)
    rewards: list[Any]
    if stage == "stage1":
        rewards = [ExecutionReward(reward=execution_reward(st), policy=st.policy,
                                   extraction=st.extraction)]
    else:
        rewards = [UnitTestReward(format_bonus=st.format_bonus, timeout_s=st.test_timeout_s,
                                  partial_tests=st.partial_tests,
                                  partial_seed=st.partial_seed)]
    if st.format_reward:
        rewards.append(FormatReward())
    return rewards
