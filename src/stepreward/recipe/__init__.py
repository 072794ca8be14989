"""The ExecVerify method on top of the library: the two-stage recipe (config schema, data, SFT,
GRPO stages, evaluation, reports), its paper settings, the reward ablation, and local models.

The canonical import path of the method; ``stepreward.integrations.recipe``, ``.paper``,
``.ablation``, ``.recipe_schema``, ``.tiny`` and ``.models`` re-export the same names.

Example:
    >>> from stepreward.recipe import RecipeConfig
    >>> RecipeConfig.model_validate({"data": {"n": 8}}).data.max_per_kind
    5
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepreward._lazy import lazy_exports

__all__ = [
    "DEFAULT_BENCHMARKS",
    "KNOWN_MODELS",
    "PRIME_DATASET",
    "STAGE2_INSTRUCTION",
    "STAGES",
    "AblationConfig",
    "ContaminationError",
    "RecipeConfig",
    "bench_checkpoint",
    "build_data",
    "build_tiny_model",
    "check_contamination",
    "code_spec",
    "compact_row",
    "compare",
    "dataset_options",
    "drop_long_prompts",
    "easy_code_tasks",
    "effective_settings",
    "eval_benchmarks",
    "eval_table",
    "evaluate_checkpoint",
    "evaluate_stages",
    "execution_reward",
    "fetch_model",
    "format_settings",
    "load_ablation",
    "load_code_tasks",
    "load_config",
    "load_prime_rows",
    "method_code_reward",
    "run_ablation",
    "run_recipe",
    "short_answer",
    "stage_rewards",
    "train_sft",
    "train_stage1",
    "train_stage2",
    "validate_recipe_config",
    "write_code_rows",
]

if TYPE_CHECKING:
    from stepreward.recipe.ablation import compare, load_ablation, run_ablation
    from stepreward.recipe.code_rows import write_code_rows
    from stepreward.recipe.code_tasks import (
        PRIME_DATASET,
        code_spec,
        load_code_tasks,
        load_prime_rows,
    )
    from stepreward.recipe.contamination import (
        DEFAULT_BENCHMARKS,
        ContaminationError,
        check_contamination,
        eval_benchmarks,
    )
    from stepreward.recipe.data import build_data, compact_row, dataset_options, short_answer
    from stepreward.recipe.driver import STAGES, run_recipe
    from stepreward.recipe.easy import easy_code_tasks
    from stepreward.recipe.evaluation import bench_checkpoint, evaluate_checkpoint, evaluate_stages
    from stepreward.recipe.grpo import drop_long_prompts, train_stage1, train_stage2
    from stepreward.recipe.models import KNOWN_MODELS, fetch_model
    from stepreward.recipe.report import eval_table
    from stepreward.recipe.rewards import (
        STAGE2_INSTRUCTION,
        execution_reward,
        method_code_reward,
        stage_rewards,
    )
    from stepreward.recipe.schema import (
        AblationConfig,
        RecipeConfig,
        load_config,
        validate_recipe_config,
    )
    from stepreward.recipe.settings import effective_settings, format_settings
    from stepreward.recipe.sft import train_sft
    from stepreward.recipe.tiny import build_tiny_model

__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.recipe.ablation": ["compare", "load_ablation", "run_ablation"],
    "stepreward.recipe.code_rows": ["write_code_rows"],
    "stepreward.recipe.code_tasks": ["PRIME_DATASET", "code_spec", "load_code_tasks",
                                     "load_prime_rows"],
    "stepreward.recipe.contamination": ["DEFAULT_BENCHMARKS", "ContaminationError",
                                        "check_contamination", "eval_benchmarks"],
    "stepreward.recipe.data": ["build_data", "compact_row", "dataset_options", "short_answer"],
    "stepreward.recipe.driver": ["STAGES", "run_recipe"],
    "stepreward.recipe.easy": ["easy_code_tasks"],
    "stepreward.recipe.evaluation": ["bench_checkpoint", "evaluate_checkpoint",
                                     "evaluate_stages"],
    "stepreward.recipe.grpo": ["drop_long_prompts", "train_stage1", "train_stage2"],
    "stepreward.recipe.models": ["KNOWN_MODELS", "fetch_model"],
    "stepreward.recipe.report": ["eval_table"],
    "stepreward.recipe.rewards": ["STAGE2_INSTRUCTION", "execution_reward",
                                  "method_code_reward", "stage_rewards"],
    "stepreward.recipe.schema": ["AblationConfig", "RecipeConfig", "load_config",
                                 "validate_recipe_config"],
    "stepreward.recipe.settings": ["effective_settings", "format_settings"],
    "stepreward.recipe.sft": ["train_sft"],
    "stepreward.recipe.tiny": ["build_tiny_model"],
})
